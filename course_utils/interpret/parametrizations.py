"""How a synthesised image is represented while it is optimised: pixels or a scaled spectrum.

Both map free parameters to an image in (0, 1) through a sigmoid, the range of the course's
data, so no clamping is needed. The Fourier parametrisation (lucid's ``fft_image``) optimises
the 2-D spectrum, each frequency scaled by 1 / frequency: a gradient step then changes low
frequencies as much as high ones, which decorrelates the pixels and gives smoother images.
"""

import torch

from .regularizers import gaussian_blur

__all__ = ["PixelImage", "FourierImage", "PARAMETRIZATIONS", "make_parametrization"]


class PixelImage:
    """image = sigmoid(p), p of shape 1×C×H×W started at ``init`` (noise around 0: grey 0.5)."""

    def __init__(self, init):
        self.latent = init.clone().requires_grad_(True)

    def parameters(self):
        return [self.latent]

    def image(self):
        """The image 1×C×H×W in (0, 1), differentiable in the parameters."""
        return torch.sigmoid(self.latent)

    @torch.no_grad()
    def blur(self, sigma):
        """Blur the parameters (and so the image's logits) with a Gaussian of ``sigma`` pixels."""
        self.latent.copy_(gaussian_blur(self.latent, sigma))


class FourierImage:
    """image = sigmoid(irfft2(spectrum · scale)), scale = 1 / max(frequency, 1 / max(H, W)).

    ``init`` (1×C×H×W noise) is turned into a spectrum with the inverse scaling, so that the
    starting image is the same as :class:`PixelImage`'s for the same noise.
    """

    def __init__(self, init):
        self.size = init.shape[-2:]
        height, width = self.size
        fy = torch.fft.fftfreq(height, dtype=init.dtype, device=init.device)[:, None]
        fx = torch.fft.rfftfreq(width, dtype=init.dtype, device=init.device)[None, :]
        self.frequency = (fy.pow(2) + fx.pow(2)).sqrt()
        self.scale = 1 / self.frequency.clamp(min=1 / max(height, width))
        spectrum = torch.fft.rfft2(init, norm="ortho") / self.scale
        self.spectrum = torch.view_as_real(spectrum).clone().requires_grad_(True)

    def parameters(self):
        return [self.spectrum]

    def image(self):
        """The image 1×C×H×W in (0, 1), differentiable in the spectrum."""
        spectrum = torch.view_as_complex(self.spectrum) * self.scale
        return torch.sigmoid(torch.fft.irfft2(spectrum, s=self.size, norm="ortho"))

    @torch.no_grad()
    def blur(self, sigma):
        """Blur the image's logits: multiply the spectrum by the Gaussian's transfer function."""
        transfer = torch.exp(-2 * (torch.pi * sigma * self.frequency).pow(2))
        self.spectrum.mul_(transfer[..., None])


PARAMETRIZATIONS = {"pixel": PixelImage, "fourier": FourierImage}


def make_parametrization(name, init):
    """A :class:`PixelImage` ("pixel") or :class:`FourierImage` ("fourier") started from ``init``."""
    return PARAMETRIZATIONS[name](init)
