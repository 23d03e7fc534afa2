"""Sample from a trained GAN from a clone: `python sample.py ckpt_path=PATH num_samples=N out=PATH`, the
same command as `ganlab-sample` (ganlab.commands.sample_main; see README.md)."""
from ganlab.commands import sample_main

if __name__ == "__main__":
    sample_main()
