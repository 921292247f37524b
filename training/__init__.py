"""Training and calibration of the models berita ships. Not installed: run from a clone with the
project's venv (`python -m training.train`, `python -m training.calibrate`,
`python -m training.lexicon`)."""
