"""The subject: the hand-written NumPy MLP every framework is checked against."""

from reference.gradcheck import GradCheck, ParamCheck, gradcheck
from reference.model import (
    Params,
    backward,
    forward,
    gradients,
    init_params,
    loss,
    one_hot,
    predict,
    predict_proba,
)
from reference.spec import PRESETS, Spec, lecture, preset, standard
from reference.train import History, batches, sgd_step, train

__all__ = [
    "PRESETS",
    "GradCheck",
    "History",
    "ParamCheck",
    "Params",
    "Spec",
    "backward",
    "batches",
    "forward",
    "gradcheck",
    "gradients",
    "init_params",
    "lecture",
    "loss",
    "one_hot",
    "predict",
    "predict_proba",
    "preset",
    "sgd_step",
    "standard",
    "train",
]
