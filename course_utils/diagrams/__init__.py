"""Static diagrams drawn with matplotlib, one module per lesson topic.

They render in a stored notebook without a kernel (unlike the widgets).
"""
