"""Hostile model files: only single-file ONNX models pass deployments.onnx_files.check_model_bytes;
a pickle (or a torch checkpoint) is refused without ever being unpickled, a model naming external
data is refused before any runtime could read the file it names."""

from __future__ import annotations

import io
import pickle

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import set_external_data

from deployments.onnx_files import OnnxFileError, check_model_bytes


def _tiny_model() -> onnx.ModelProto:
    weight = numpy_helper.from_array(np.ones((4, 2), dtype=np.float32), "weight")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["input", "weight"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)],
        "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])], initializer=[weight],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


class _Marker:
    """Unpickling this creates the marker file: the proof a pickle was (or was not) loaded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_clean_single_file_model_passes():
    check_model_bytes(_tiny_model().SerializeToString())


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_a_pickle_disguised_as_a_model_is_refused_and_never_unpickled(tmp_path, protocol):
    marker = tmp_path / "unpickled"
    disguised = pickle.dumps(_Marker(str(marker)), protocol=protocol)

    with pytest.raises(OnnxFileError):
        check_model_bytes(disguised)

    assert not marker.exists()


def test_the_marker_pickle_really_would_have_created_the_file(tmp_path):
    # The control: what the refused bytes would have done had anything unpickled them.
    marker = tmp_path / "unpickled"
    pickle.loads(pickle.dumps(_Marker(str(marker))))  # noqa: S301 - our own bytes, the point of the test
    assert marker.exists()


def test_a_torch_checkpoint_is_refused_unopened(tmp_path):
    buffer = io.BytesIO()
    torch.save({"state_dict": {"w": torch.ones(2)}, "marker": _Marker(str(tmp_path / "unpickled"))}, buffer)
    with pytest.raises(OnnxFileError, match="pickle or a PyTorch checkpoint"):
        check_model_bytes(buffer.getvalue())
    assert not (tmp_path / "unpickled").exists()


@pytest.mark.parametrize("location", ["../../../etc/passwd", "/etc/passwd", "weights.bin"])
def test_an_onnx_model_with_external_data_is_refused(location):
    model = _tiny_model()
    set_external_data(model.graph.initializer[0], location=location)
    model.graph.initializer[0].ClearField("raw_data")
    with pytest.raises(OnnxFileError, match="external data"):
        check_model_bytes(model.SerializeToString())


def test_external_data_inside_a_node_attribute_is_refused_too():
    model = _tiny_model()
    constant = numpy_helper.from_array(np.zeros(2, dtype=np.float32), "bias")
    set_external_data(constant, location="../bias.bin")
    constant.ClearField("raw_data")
    model.graph.node.append(helper.make_node("Constant", [], ["bias"], value=constant))
    with pytest.raises(OnnxFileError, match="external data"):
        check_model_bytes(model.SerializeToString())


def test_bytes_that_are_not_a_model_and_models_that_fail_the_checker_are_refused(settings):
    with pytest.raises(OnnxFileError, match="not an ONNX model"):
        check_model_bytes(b"\x00garbage that is not protobuf\xff" * 10)
    broken = _tiny_model()
    broken.graph.node[0].op_type = "NoSuchOperator"
    with pytest.raises(OnnxFileError, match="onnx.checker"):
        check_model_bytes(broken.SerializeToString())
    settings.PRAKRIYA_ONNX_MAX_BYTES = 100
    with pytest.raises(OnnxFileError, match="larger than"):
        check_model_bytes(_tiny_model().SerializeToString())
