"""Train a GAN from a clone: `python train.py [group=option ...] [key=value ...]`, the same command as
`ganlab-train` (ganlab.commands.train_main; see README.md)."""
from ganlab.commands import train_main  # imports nothing heavy: train_main guards start-up first

if __name__ == "__main__":
    train_main()
