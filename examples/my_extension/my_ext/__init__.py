"""An example of extending ganlab from outside its repository: a loss, a network family, a
DataModule and a metric, each one file here plus one YAML file in ../conf (docs/extending.md)."""
