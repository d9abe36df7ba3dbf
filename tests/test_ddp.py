"""Two-process DistributedDataParallel run of the CLI on CPU (gloo) under torchrun."""

import json
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
from test_train_cli import needs_data

pytestmark = pytest.mark.slow


@needs_data
@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                    reason="this PyTorch build has no gloo backend")
def test_two_processes_train_identical_replicas(tmp_path):
    state = tmp_path / "state"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node=2", "-m", "course_utils.training", "--model", "lenet_modern",
               "--epochs", "2", "--train-size", "1024", "--test-size", "500", "--batch-size",
               "64", "--augment", "shift-flip", "--schedule", "onecycle", "--device", "cpu",
               "--quiet", "--state-file", str(state)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-3000:]
    json_lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(json_lines) == 1, result.stdout  # only rank 0 reports
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["world_size"] == 2 and summary["epochs"] == 2
    assert summary["test_accuracy"] > 0.5  # it learned something

    rank0 = torch.load(f"{state}.rank0.pt", weights_only=True)
    rank1 = torch.load(f"{state}.rank1.pt", weights_only=True)
    assert rank0.keys() == rank1.keys()
    for key in rank0:  # parameters and batch-norm statistics, bit for bit
        assert torch.equal(rank0[key], rank1[key]), key
