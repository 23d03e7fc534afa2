"""`python -m ganlab train|sample [overrides ...]`: ganlab-train and ganlab-sample (ganlab.commands)."""
from ganlab.commands import main

if __name__ == "__main__":
    main()
