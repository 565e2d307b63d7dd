"""The Spec and its presets: defaults, the lecture preset's exact fields, parameter layout."""

from __future__ import annotations

import dataclasses

import pytest

from reference.spec import PRESETS, Spec, lecture, preset, standard

# The teaching material's network, field by field (DESIGN.md "The model", issue 2).
LECTURE_FIELDS = {
    "sizes": (784, 128, 64, 10),
    "activation": "sigmoid",
    "bias": False,
    "loss": "squared_error",
    "softmax_grad": "diagonal",
    "init": "lecture",
    "lr": 0.001,
    "batch_size": 1,
    "epochs": 10,
}

DEFAULT_FIELDS = {
    "sizes": (784, 128, 64, 10),
    "activation": "sigmoid",
    "loss": "cross_entropy",
    "softmax_grad": "jacobian",
    "bias": True,
    "init": "glorot",
    "dtype": "float64",
    "lr": 0.5,
    "batch_size": 32,
    "epochs": 10,
    "seed": 0,
}


@pytest.mark.parametrize("field", list(DEFAULT_FIELDS), ids=list(DEFAULT_FIELDS))
def test_default_field(field: str) -> None:
    got = getattr(Spec(), field)
    assert got == DEFAULT_FIELDS[field], f"Spec().{field} = {got!r}, want {DEFAULT_FIELDS[field]!r}"


def test_standard_preset_is_the_default_spec() -> None:
    assert standard() == Spec(), f"standard() = {standard()!r} differs from Spec()"


@pytest.mark.parametrize("field", list(LECTURE_FIELDS), ids=list(LECTURE_FIELDS))
def test_lecture_preset_field(field: str) -> None:
    got = getattr(lecture(), field)
    assert got == LECTURE_FIELDS[field], (
        f"lecture().{field} = {got!r}, want {LECTURE_FIELDS[field]!r}"
    )
    assert type(got) is type(LECTURE_FIELDS[field]), f"lecture().{field} has type {type(got)}"


def test_lecture_preset_takes_changes() -> None:
    spec = lecture(epochs=1, softmax_grad="jacobian", dtype="float32")
    assert (spec.epochs, spec.softmax_grad, spec.dtype) == (1, "jacobian", "float32"), spec
    assert spec.loss == "squared_error" and spec.bias is False, f"other fields changed: {spec!r}"


@pytest.mark.parametrize("name", sorted(PRESETS), ids=sorted(PRESETS))
def test_preset_by_name(name: str) -> None:
    assert preset(name, epochs=3) == PRESETS[name](epochs=3), f"preset({name!r}) differs"


def test_unknown_preset_names_it() -> None:
    with pytest.raises(ValueError, match=r"preset='fancy'.*standard, lecture"):
        preset("fancy")


LAYOUTS = {
    # sizes, bias: expected shapes in key order (W is (fan_out, fan_in), b is (fan_out,))
    "1-hidden-bias": ((4, 3, 2), True, {"W1": (3, 4), "b1": (3,), "W2": (2, 3), "b2": (2,)}),
    "1-hidden-nobias": ((4, 3, 2), False, {"W1": (3, 4), "W2": (2, 3)}),
    "2-hidden-bias": (
        (784, 128, 64, 10),
        True,
        {"W1": (128, 784), "b1": (128,), "W2": (64, 128), "b2": (64,), "W3": (10, 64), "b3": (10,)},
    ),
    "2-hidden-nobias": (
        (784, 128, 64, 10),
        False,
        {"W1": (128, 784), "W2": (64, 128), "W3": (10, 64)},
    ),
    "3-hidden-bias": (
        (5, 7, 6, 4, 3),
        True,
        {
            "W1": (7, 5),
            "b1": (7,),
            "W2": (6, 7),
            "b2": (6,),
            "W3": (4, 6),
            "b3": (4,),
            "W4": (3, 4),
            "b4": (3,),
        },
    ),
    "3-hidden-nobias": (
        (5, 7, 6, 4, 3),
        False,
        {"W1": (7, 5), "W2": (6, 7), "W3": (4, 6), "W4": (3, 4)},
    ),
}


@pytest.mark.parametrize("case", list(LAYOUTS.values()), ids=list(LAYOUTS))
def test_param_keys_and_shapes(case: tuple) -> None:
    sizes, bias, shapes = case
    spec = Spec(sizes=sizes, bias=bias)
    assert spec.param_keys() == tuple(shapes), f"param_keys {spec.param_keys()} != {tuple(shapes)}"
    assert spec.param_shapes() == shapes, f"param_shapes {spec.param_shapes()} != {shapes}"
    assert list(spec.param_shapes()) == list(spec.param_keys()), "shapes not in key order"
    assert spec.n_layers == len(sizes) - 1, f"n_layers {spec.n_layers} for sizes {sizes}"
    assert (spec.n_features, spec.n_classes) == (sizes[0], sizes[-1]), spec


def test_sizes_list_becomes_a_tuple() -> None:
    spec = Spec(sizes=[6, 5, 4])  # type: ignore[arg-type]
    assert spec.sizes == (6, 5, 4) and isinstance(spec.sizes, tuple), f"sizes {spec.sizes!r}"
    assert hash(spec) == hash(Spec(sizes=(6, 5, 4))), "a list-built spec must hash like a tuple"


def test_spec_is_frozen() -> None:
    spec = Spec()
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.lr = 0.1  # type: ignore[misc]
    assert spec.lr == 0.5, f"lr changed to {spec.lr}"


def test_replace_returns_a_changed_copy() -> None:
    spec = Spec()
    changed = spec.replace(lr=0.1, sizes=(6, 5, 4))
    assert (changed.lr, changed.sizes) == (0.1, (6, 5, 4)), changed
    assert (spec.lr, spec.sizes) == (0.5, (784, 128, 64, 10)), f"original changed: {spec!r}"


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"lr": -1.0}, "lr=-1.0"),
        ({"activation": "softplus"}, "activation='softplus'"),
        ({"softmax_grad": "diagonal"}, "loss='cross_entropy'"),
        ({"batch_size": 0}, "batch_size=0"),
    ],
    ids=["lr", "activation", "diagonal-with-ce", "batch_size"],
)
def test_replace_validates_again(changes: dict, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(")):
        Spec().replace(**changes)


def test_to_dict_is_json_shaped() -> None:
    out = lecture().to_dict()
    assert out["sizes"] == [784, 128, 64, 10], f"sizes {out['sizes']!r} should be a list"
    assert {k: out[k] for k in LECTURE_FIELDS if k != "sizes"} == {
        k: v for k, v in LECTURE_FIELDS.items() if k != "sizes"
    }, out
