"""Training entry point of the project's image: runs the script-mode program the job names in its
`sagemaker_program` hyperparameter, as SageMaker's framework images do (train.py when none is named),
so ScarceGAN (train.py) and the challenger (train_gb.py) train on the same image."""

import json
import os
import runpy
import sys
from pathlib import Path

config = Path(os.environ.get("SM_INPUT_CONFIG_DIR", "/opt/ml/input/config")) / "hyperparameters.json"
named = json.loads(config.read_text()).get("sagemaker_program") if config.is_file() else None
program = Path(json.loads(named) if named else "train.py").name
sys.argv = [program, *[a for a in sys.argv[1:] if a != "train"]]  # `docker run <image> train`
runpy.run_path(str(Path(__file__).with_name(program)), run_name="__main__")
