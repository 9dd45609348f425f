"""Training a species classifier: config → data plan → fastai fine-tuning → artifact and report.

Import the pieces from their modules (ml.training.config, .data, .train); nothing heavy loads here.
"""
