"""``swiftcls`` entry point (swiftcls/cli/main.py)."""

import torch.distributed as dist

from swiftcls.cli.main import main


def test_a_process_group_the_run_made_is_destroyed_before_exit(tmp_path):
    """A gloo group left to static destructors can abort a rank after a finished run (SIGABRT, seen once under
    ZeRO-3 in CI), so the entry point destroys it, also when the command fails."""
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        code = main(["export", "--model", str(tmp_path / "missing"), "--output_dir", str(tmp_path / "out")])
        assert code == 2 and not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
