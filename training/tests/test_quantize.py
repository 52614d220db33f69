"""The dynamic quantiser builds the graph onnxruntime's quantize_dynamic builds (run by test/quantize.test.ts,
which also runs the result in onnxruntime-node):
    /usr/bin/python3 -m unittest discover -s training/tests -t .
"""
import unittest

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from training.pulse_lite import quantize as Q


def tiny_model():
    """image -> Conv(+bias) -> Relu -> [MatMul with constant B, MatMul of two activations] ; Gemm on a vector."""
    rng = np.random.default_rng(3)
    w = rng.normal(size=(4, 1, 3, 3)).astype(np.float32)
    b = rng.normal(size=(4,)).astype(np.float32)
    m = rng.normal(size=(6, 5)).astype(np.float32)
    g = rng.normal(size=(2, 5)).astype(np.float32)
    inits = [numpy_helper.from_array(w, 'w'), numpy_helper.from_array(b, 'b'), numpy_helper.from_array(m, 'm'),
             numpy_helper.from_array(g, 'g')]
    nodes = [
        helper.make_node('Conv', ['image', 'w', 'b'], ['c'], 'conv', pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node('Relu', ['c'], ['r'], 'relu'),
        helper.make_node('MatMul', ['r', 'm'], ['mm'], 'matmul_const'),
        helper.make_node('MatMul', ['r', 'rt'], ['aa'], 'matmul_acts'),
        helper.make_node('Transpose', ['r'], ['rt'], 'transpose', perm=[0, 1, 3, 2]),
        helper.make_node('ReduceMean', ['mm'], ['v'], 'pool', axes=[1, 2], keepdims=0),
        helper.make_node('Gemm', ['v', 'g'], ['logits'], 'gemm', transB=1),
    ]
    # Topological order: the Transpose must come before the MatMul that reads it.
    nodes[3], nodes[4] = nodes[4], nodes[3]
    graph = helper.make_graph(nodes, 'tiny', [helper.make_tensor_value_info('image', TensorProto.FLOAT, [1, 1, 6, 6])],
                              [helper.make_tensor_value_info('mm', TensorProto.FLOAT, None),
                               helper.make_tensor_value_info('aa', TensorProto.FLOAT, None),
                               helper.make_tensor_value_info('logits', TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])


class WeightQuantisation(unittest.TestCase):
    def test_int8_is_symmetric_with_zero_point_0(self):
        w = np.array([-0.5, 0.0, 0.25, 1.27], dtype=np.float32)
        q, scale, zp = Q.quantize_weight(w, 'int8', reduce_range=False)
        self.assertAlmostEqual(float(scale), 1.27 / 127, places=7)   # max|w| / 127
        self.assertEqual(int(zp), 0)
        self.assertEqual(q.dtype, np.int8)
        self.assertEqual(q.tolist(), [-50, 0, 25, 127])

    def test_reduced_range_int8_for_matmul_weights(self):
        q, scale, _ = Q.quantize_weight(np.array([-1.28, 0.64], dtype=np.float32), 'int8', reduce_range=True)
        self.assertAlmostEqual(float(scale), 1.28 / 64, places=7)    # -64..64
        self.assertEqual(q.tolist(), [-64, 32])

    def test_uint8_is_asymmetric_and_represents_zero_exactly(self):
        w = np.array([-1.0, 0.0, 3.0], dtype=np.float32)
        q, scale, zp = Q.quantize_weight(w, 'uint8', reduce_range=False)
        self.assertAlmostEqual(float(scale), 4.0 / 255, places=7)
        self.assertEqual(int(zp), round(1.0 / float(scale)))
        self.assertEqual(q.dtype, np.uint8)
        self.assertEqual(int(q[1]), int(zp), 'float 0 maps to the zero point')
        self.assertEqual((int(q[0]), int(q[2])), (0, 255))

    def test_dequantised_weights_are_within_half_a_step(self):
        w = np.random.default_rng(0).normal(size=1000).astype(np.float32)
        for kind in ('int8', 'uint8'):
            q, scale, zp = Q.quantize_weight(w, kind, reduce_range=False)
            back = (q.astype(np.float32) - float(zp)) * float(scale)
            self.assertLessEqual(float(np.abs(back - w).max()), float(scale) / 2 + 1e-6, kind)


class Graph(unittest.TestCase):
    def setUp(self):
        self.model, self.replaced = Q.quantize_model(tiny_model())
        self.ops = [n.op_type for n in self.model.graph.node]

    def test_conv_and_constant_matmul_become_integer_ops_the_rest_stays_float(self):
        self.assertEqual(sorted(self.replaced), ['conv', 'matmul_const'])
        self.assertEqual(self.ops.count('ConvInteger'), 1)
        self.assertEqual(self.ops.count('MatMulInteger'), 1)
        self.assertEqual(self.ops.count('MatMul'), 1, 'the MatMul of two activations stays float (MatMulConstBOnly)')
        self.assertEqual(self.ops.count('Gemm'), 1, 'Gemm is not in the IntegerOps registry')
        self.assertNotIn('Conv', self.ops)

    def test_conv_integer_is_followed_by_cast_scale_and_reshaped_bias(self):
        by_out = {o: n for n in self.model.graph.node for o in n.output}
        add = by_out['c']
        self.assertEqual(add.op_type, 'Add')
        scaled, bias = (by_out[i] for i in add.input)
        self.assertEqual((scaled.op_type, bias.op_type), ('Mul', 'Reshape'))
        shape = next(i for i in self.model.graph.initializer if i.name == bias.input[1])
        self.assertEqual(numpy_helper.to_array(shape).tolist(), [1, -1, 1, 1])
        cast, scales = (by_out[i] for i in scaled.input)
        self.assertEqual((cast.op_type, scales.op_type), ('Cast', 'Mul'))
        conv = by_out[cast.input[0]]
        self.assertEqual(conv.op_type, 'ConvInteger')
        self.assertEqual({a.name: helper.get_attribute_value(a) for a in conv.attribute}['pads'], [1, 1, 1, 1])
        self.assertEqual(by_out[conv.input[0]].op_type, 'DynamicQuantizeLinear')
        inits = {i.name: i for i in self.model.graph.initializer}
        self.assertEqual(inits[conv.input[1]].data_type, TensorProto.INT8)
        self.assertNotIn('w', inits, 'the float weight is gone')

    def test_one_dynamic_quantisation_per_activation(self):
        self.assertEqual(self.ops.count('DynamicQuantizeLinear'), 2, 'image and r, each once')

    def test_uint8_weights_and_excluded_nodes(self):
        model, replaced = Q.quantize_model(tiny_model(), weight_type='uint8', exclude=['matmul_const'])
        self.assertEqual(replaced, ['conv'])
        inits = {i.name: i for i in model.graph.initializer}
        self.assertEqual(inits['w_quantized'].data_type, TensorProto.UINT8)
        self.assertIn('m', inits, 'the excluded MatMul keeps its float weight')

    def test_result_passes_the_onnx_checker_with_inferred_types(self):
        onnx.checker.check_model(self.model)
        types = {v.name: v.type.tensor_type.elem_type for v in self.model.graph.value_info}
        self.assertEqual(types.get('image_quantized'), TensorProto.UINT8)
        self.assertEqual(types.get('c_output_quantized'), TensorProto.INT32)


if __name__ == '__main__':
    unittest.main()
