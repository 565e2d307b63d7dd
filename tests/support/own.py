"""A user's own MLP for the tests: docs/own-mlp.md's template, and variants of it with one
planted defect each (the source edited as a user would edit it, then written to a file)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import ROOT

DOC = ROOT / "docs" / "own-mlp.md"


def template_source() -> str:
    """The first ```python block after the heading "## A template" of docs/own-mlp.md."""
    text = DOC.read_text()
    section = text[text.index("## A template") :]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, f"no python block under '## A template' in {DOC}"
    return match.group(1)


# name -> the edits (old, new) that plant it in the template; each old text occurs exactly once
FORWARD_RETURN = "return A if every_layer else A[-1]"
GRADS_RETURN = "        return grads\n"
EDITS: dict[str, tuple[tuple[str, str], ...]] = {
    # disagreements (stage failures)
    "bias_averaged_twice": (("delta.sum(axis=0)", "delta.mean(axis=0)"),),
    "softmax_without_max_shift": (("np.exp(Z - Z.max(axis=1, keepdims=True))", "np.exp(Z)"),),
    # broken contracts
    "no_forward": (("def forward(", "def predict("),),
    "no_gradients": (("def gradients(", "def gradient("),),
    "forward_takes_X_only": (
        ("def forward(self, spec, params, X, every_layer=False):", "def forward(self, X):"),
    ),
    "probs_transposed": ((FORWARD_RETURN, f"{FORWARD_RETURN}.T"),),
    "probs_a_list": ((FORWARD_RETURN, f"{FORWARD_RETURN}.tolist()"),),
    "probs_float32": ((FORWARD_RETURN, f"{FORWARD_RETURN}.astype(np.float32)"),),
    "probs_nan": ((FORWARD_RETURN, f"{FORWARD_RETURN} * np.nan"),),
    "grads_missing_b2": ((GRADS_RETURN, "        del grads['b2']\n" + GRADS_RETURN),),
    "grads_W1_transposed": (
        (GRADS_RETURN, "        grads['W1'] = grads['W1'].T\n" + GRADS_RETURN),
    ),
    "grads_bias_2d": (("delta.sum(axis=0)", "delta.sum(axis=0, keepdims=True)"),),
    "grads_float32": (
        (
            GRADS_RETURN,
            "        grads = {k: v.astype(np.float32) for k, v in grads.items()}\n" + GRADS_RETURN,
        ),
    ),
    "grads_inf": ((GRADS_RETURN, "        grads['b2'] = grads['b2'] + np.inf\n" + GRADS_RETURN),),
    "forward_raises": (('A[-1] @ params[f"W{l}"].T', 'A[-1] @ params[f"W{l}"]'),),
    "helper_raises": (
        (
            "import numpy as np\n",
            "import numpy as np\n\n\ndef one_hot(y, k):\n    return {'y': y}[k]\n",
        ),
        ("np.eye(spec.sizes[-1], dtype=X.dtype)[y]", "one_hot(y, spec.sizes[-1])"),
    ),
    "writes_into_X": (
        ("A, L = [X], len(spec.sizes) - 1", "X *= 1.0\n        A, L = [X], len(spec.sizes) - 1"),
    ),
    "import_error": (("import numpy as np\n", "import numpy as np\nimport not_a_module_xyz\n"),),
    "syntax_error": (("def gradients(self,", "def gradients(self,,"),),
    "exits_at_import": (
        ("import numpy as np\n", "import sys\n\nimport numpy as np\n\nsys.exit(3)\n"),
    ),
    "init_needs_arguments": (
        (
            "    def forward(",
            "    def __init__(self, hidden):\n        self.hidden = hidden\n\n    def forward(",
        ),
    ),
    "init_raises": (
        (
            "    def forward(",
            "    def __init__(self):\n        raise RuntimeError('no GPU here')\n\n"
            "    def forward(",
        ),
    ),
    "train_returns_params_only": (("        return params, history\n", "        return params\n"),),
    "history_without_accuracy": (
        ('history = {"loss": [], "accuracy": []}', 'history = {"loss": []}'),
    ),
    "history_loss_per_batch": (
        ('            history["loss"].append(loss / len(order))', "            pass"),
        (
            "                params = {k:",
            '                history["loss"].append(0.0)\n                params = {k:',
        ),
    ),
    "supports_returns_bool": (
        (
            "    def forward(",
            "    def supports(self, spec):\n        return True\n\n    def forward(",
        ),
    ),
    "no_train": (),  # the train method removed below
    "named_numpy": (("class MyMLP:", "class MyMLP:\n    name = 'numpy'\n"),),
}


def variant(name: str) -> str:
    """The template with the defect ``name`` planted."""
    source = template_source()
    if name == "no_train":
        return source[: source.index("    def train(")].rstrip() + "\n"
    for old, new in EDITS[name]:
        assert source.count(old) == 1, f"{name}: {old!r} occurs {source.count(old)} times"
        source = source.replace(old, new)
    return source


def write(folder: Path, source: str, filename: str = "my_mlp.py") -> Path:
    """``source`` as ``folder/filename``, outside the repository."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    path.write_text(source)
    return path
