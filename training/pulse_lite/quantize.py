"""Dynamic int8 quantisation of an ONNX export, written out as onnxruntime's `quantize_dynamic` does it
(onnxruntime/python/tools/quantization: onnx_quantizer.py, operators/conv.py, operators/matmul.py,
quant_utils.py), because the onnxruntime Python package is not installable here (neither pip nor
Debian) while the Node runtime we ship (onnxruntime-node) runs the result.

What quantize_dynamic does with its defaults (QuantType.QInt8 weights, per_channel=False,
reduce_range=False, MatMulConstBOnly=True), and what this module reproduces:

- Conv with a constant weight -> ConvInteger. The weight is quantised per tensor, symmetric int8
  (range -127..127, zero point 0, scale = max|w| / 127), stored as initializers `<w>_quantized`,
  `<w>_scale`, `<w>_zero_point`. The activation is quantised at run time by DynamicQuantizeLinear
  (uint8, asymmetric, range widened to include 0), once per tensor however many nodes read it.
  ConvInteger's int32 output is Cast to float, multiplied by (activation scale x weight scale), and the
  float bias, reshaped to [1, C, 1, 1], is added.
- MatMul whose B is a constant -> MatMulInteger, the same way, except that quantize_dynamic always
  reduces the range of MatMul weights (reduce_range=True in operators/matmul.py: -64..64 for int8,
  scale = max|w| / 64) to leave headroom for the u8 x s8 accumulation of x86 kernels. MatMuls of two
  activations (attention's QK^T and AV) stay float.
- Everything else stays float: Gemm is not in quantize_dynamic's IntegerOps registry, LayerNorm,
  Softmax, Resize and the rest are float ops.

`--weight-type uint8` gives QuantType.QUInt8 (asymmetric 0..255 weights; MatMul's reduced to 0..127):
what models/pulse-lite-int8 uses, because onnxruntime-node 1.30's CPU ConvInteger runs int8 weights
3-4x slower than the float Conv and uint8 weights faster (older versions refused int8 weights
outright). `--exclude` leaves named nodes in float (quantize_dynamic's nodes_to_exclude), `--op-types`
restricts the quantised op types (its op_types_to_quantize). The study head (a separate small ONNX) is
not touched.

    /usr/bin/python3 -m training.pulse_lite.quantize models/pulse-lite/model.onnx out/model.onnx
    /usr/bin/python3 -m training.pulse_lite.quantize --variant models/pulse-lite models/pulse-lite-int8 --weight-type uint8

`--variant` builds a whole model folder beside the float one: the quantised model.onnx, the float study
head copied, and a manifest named `<name>-int8` (same version, inputs, outputs, segments, diagnosis).
Its quality-control reference must come from the quantised embeddings (the reference names the model
it was computed for), so the manifest is first written without `qualityControl`; run
`pulse qc-reference --model <folder>/manifest.json --out <folder>/qc-reference.json`, then --variant
again: it pins the reference by hash and carries the float model's uncertainty settings over.
"""
import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# quant_utils: ONNX_INT_TYPE_RANGE, ONNX_INT_TYPE_SYMMETRIC_RANGE, ONNX_INT_TYPE_REDUCED_RANGE
RANGES = {
    ('int8', 'symmetric'): (-127, 127),
    ('int8', 'full'): (-128, 127),
    ('int8', 'reduced'): (-64, 64),
    ('uint8', 'full'): (0, 255),
    ('uint8', 'reduced'): (0, 127),
}
NP_TYPES = {'int8': np.int8, 'uint8': np.uint8}


def quant_range(weight_type, reduce_range):
    """quant_utils.get_qmin_qmax_for_qType: int8 weights are symmetric by default (is_weight_symmetric)."""
    if reduce_range:
        return RANGES[(weight_type, 'reduced')]
    return RANGES[(weight_type, 'symmetric' if weight_type == 'int8' else 'full')]


def scale_zero_point(rmin, rmax, qmin, qmax, symmetric):
    """quant_utils.compute_scale_zp: the range always holds 0, so that 0 is exactly representable."""
    rmin, rmax = min(rmin, 0.0), max(rmax, 0.0)
    if symmetric:
        absmax = max(abs(rmin), abs(rmax))
        rmin, rmax = -absmax, absmax
    scale = np.float32((rmax - rmin) / float(qmax - qmin)) if rmax != rmin else np.float32(1.0)
    zero_point = int(round(qmin - rmin / float(scale)))
    return scale, zero_point


def quantize_weight(w, weight_type, reduce_range):
    """quant_utils.quantize_data + quantize_nparray: q = clip(round(w / scale) + zp)."""
    qmin, qmax = quant_range(weight_type, reduce_range)
    scale, zp = scale_zero_point(float(w.min()), float(w.max()), qmin, qmax, symmetric=weight_type == 'int8')
    q = np.clip(np.rint(w.astype(np.float32) / scale) + zp, qmin, qmax).astype(NP_TYPES[weight_type])
    return q, scale, np.array(zp, dtype=NP_TYPES[weight_type])


class DynamicQuantizer:
    def __init__(self, model, weight_type='int8', exclude=(), op_types=('Conv', 'MatMul')):
        self.model = model
        self.op_types = set(op_types)
        self.graph = model.graph
        self.weight_type = weight_type
        self.exclude = set(exclude)
        self.inits = {i.name: i for i in self.graph.initializer}
        self.new_inits = []
        self.activations = {}   # float tensor -> (quantized, scale, zero point) names
        self.weights = {}       # weight initializer -> (quantized, scale, zero point) names
        self.quantized = []     # names of the nodes replaced

    def weight(self, name, reduce_range):
        if name not in self.weights:
            q, scale, zp = quantize_weight(numpy_helper.to_array(self.inits[name]), self.weight_type, reduce_range)
            names = (f'{name}_quantized', f'{name}_scale', f'{name}_zero_point')
            self.new_inits += [numpy_helper.from_array(q, names[0]),
                               numpy_helper.from_array(np.array(scale, dtype=np.float32), names[1]),
                               numpy_helper.from_array(zp, names[2])]
            self.weights[name] = names
        return self.weights[name]

    def activation(self, name, nodes):
        """onnx_quantizer._get_dynamic_input_quantization_params (uint8): one DynamicQuantizeLinear per tensor."""
        if name not in self.activations:
            names = (f'{name}_quantized', f'{name}_scale', f'{name}_zero_point')
            nodes.append(helper.make_node('DynamicQuantizeLinear', [name], list(names), f'{name}_QuantizeLinear'))
            self.activations[name] = names
        return self.activations[name]

    def integer_op(self, node, op_type, reduce_range, bias_rank=None):
        nodes = []
        x_q, x_scale, x_zp = self.activation(node.input[0], nodes)
        w_q, w_scale, w_zp = self.weight(node.input[1], reduce_range)
        base = node.name + '_quant'
        out_q = node.output[0] + '_output_quantized'
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        nodes.append(helper.make_node(op_type, [x_q, w_q, x_zp, w_zp], [out_q], base, **attrs))
        cast = out_q + '_cast_output'
        nodes.append(helper.make_node('Cast', [out_q], [cast], out_q + '_cast', to=TensorProto.FLOAT))
        scales = base + '_scales_mul:0'
        nodes.append(helper.make_node('Mul', [x_scale, w_scale], [scales], base + '_scales_mul'))
        has_bias = bias_rank is not None and len(node.input) > 2 and node.input[2] != ''
        scaled = node.output[0] + 'quant_scaled_output' if has_bias else node.output[0]
        nodes.append(helper.make_node('Mul', [cast, scales], [scaled], base + '_output_scale_mul'))
        if has_bias:   # operators/conv.py ConvInteger.add_bias: Reshape the bias to [1, -1, 1, 1], then Add
            out = node.output[0]
            shape = np.ones(bias_rank, dtype=np.int64)
            shape[1] = -1
            self.new_inits.append(numpy_helper.from_array(shape, out + '_bias_reshape_shape'))
            nodes.append(helper.make_node('Reshape', [node.input[2], out + '_bias_reshape_shape'], [out + '_bias_reshape_output']))
            nodes.append(helper.make_node('Add', [scaled, out + '_bias_reshape_output'], [out], out + '_bias_add'))
        return nodes

    def quantize(self):
        new_nodes = []
        for node in self.graph.node:
            if node.name in self.exclude:
                new_nodes.append(node)
            elif node.op_type not in self.op_types:
                new_nodes.append(node)
            elif node.op_type == 'Conv' and node.input[1] in self.inits:
                rank = len(self.inits[node.input[1]].dims)
                new_nodes += self.integer_op(node, 'ConvInteger', reduce_range=False, bias_rank=rank)
                self.quantized.append(node.name)
            elif node.op_type == 'MatMul' and node.input[1] in self.inits:   # MatMulConstBOnly
                new_nodes += self.integer_op(node, 'MatMulInteger', reduce_range=True)
                self.quantized.append(node.name)
            else:
                new_nodes.append(node)
        used = {i for n in new_nodes for i in n.input}
        kept = [i for i in self.graph.initializer if i.name in used]
        del self.graph.node[:]
        self.graph.node.extend(new_nodes)
        del self.graph.initializer[:]
        self.graph.initializer.extend(kept + [i for i in self.new_inits if i.name in used])
        # value_info of the float graph may name tensors that no longer exist: let shape inference redo it.
        del self.graph.value_info[:]
        # ConvInteger/MatMulInteger/DynamicQuantizeLinear are opset 10/10/11: the model's 17 covers them.
        return self.model


def quantize_model(model, weight_type='int8', exclude=(), op_types=('Conv', 'MatMul')):
    """Returns (quantised model, names of the nodes replaced by integer ops)."""
    q = DynamicQuantizer(onnx.ModelProto.FromString(model.SerializeToString()), weight_type, exclude, op_types)
    out = q.quantize()
    out = onnx.shape_inference.infer_shapes(out)
    onnx.checker.check_model(out)
    return out, q.quantized


def build_variant(float_dir, out_dir, weight_type='int8', exclude=()):
    """The quantised model folder: model.onnx, the float study head, manifest.json (see the module doc)."""
    float_dir, out_dir = Path(float_dir), Path(out_dir)
    manifest = json.loads((float_dir / 'manifest.json').read_text())
    out_dir.mkdir(parents=True, exist_ok=True)
    model, replaced = quantize_model(onnx.load(str(float_dir / manifest['model']['file'])), weight_type, exclude)
    onnx.save(model, str(out_dir / manifest['model']['file']))
    head = manifest['diagnosis']['studyHead']['file']
    shutil.copyfile(float_dir / head, out_dir / head)
    source = f"{manifest['name']} {manifest['version']}"
    manifest['name'] = f"{manifest['name']}-int8"   # 8-bit integer weights and activations, whichever signedness
    manifest['description'] = (
        f"{source} with dynamic {weight_type} quantisation (training/pulse_lite/quantize.py, as onnxruntime's "
        f"quantize_dynamic: {len(replaced)} Conv/MatMul nodes with {weight_type} weights per tensor and uint8 "
        f"activations quantised at run time; study head in float). " + manifest.get('description', ''))
    manifest['quantization'] = {
        'from': source,
        'method': f"dynamic, as onnxruntime quantize_dynamic(weight_type=QuantType.{'QUInt8' if weight_type == 'uint8' else 'QInt8'}, per_channel=False, reduce_range=False)",
        'weights': f'{weight_type}, per tensor', 'activations': 'uint8, DynamicQuantizeLinear at run time',
        'quantizedNodes': len(replaced), 'excludedNodes': list(exclude),
        'command': ' '.join(['/usr/bin/python3 -m training.pulse_lite.quantize --variant', str(float_dir), str(out_dir), '--weight-type', weight_type]
                            + (['--exclude', *exclude] if exclude else []))}
    qc = manifest.pop('qualityControl', None)
    reference = out_dir / (qc['reference']['file'] if qc else 'qc-reference.json')
    pinned = False
    if qc and reference.exists() and json.loads(reference.read_text())['model'] == {'name': manifest['name'], 'version': manifest['version']}:
        qc['reference']['sha256'] = hashlib.sha256(reference.read_bytes()).hexdigest()
        qc['reference']['description'] = qc['reference'].get('description', '') + " (recomputed on this quantised model)"
        qc['uncertainty']['description'] = qc['uncertainty'].get('description', '') + f" (reviewAbove carried over from {source})"
        manifest['qualityControl'] = qc
        pinned = True
    # The float model's validation figures do not describe this one: `pulse eval` does (EVAL.md).
    manifest.pop('validation', None)
    (out_dir / 'manifest.json').write_text(json.dumps(manifest, indent=2) + '\n')
    return {'manifest': str(out_dir / 'manifest.json'), 'quantizedNodes': len(replaced), 'qcReferencePinned': pinned}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('input', help='float model.onnx (with --variant: the float model folder)')
    ap.add_argument('output', help='quantised model.onnx (with --variant: the new model folder)')
    ap.add_argument('--variant', action='store_true', help='build a whole model folder with its manifest')
    ap.add_argument('--weight-type', choices=['int8', 'uint8'], default='int8')
    ap.add_argument('--exclude', nargs='*', default=[], help='node names left in float')
    ap.add_argument('--op-types', nargs='*', default=['Conv', 'MatMul'], choices=['Conv', 'MatMul'], help="quantize_dynamic's op_types_to_quantize")
    args = ap.parse_args(argv)
    if args.variant:
        print(json.dumps(build_variant(args.input, args.output, args.weight_type, args.exclude)))
        return 0
    model, replaced = quantize_model(onnx.load(args.input), args.weight_type, args.exclude, args.op_types)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, args.output)
    print(json.dumps({'input': args.input, 'output': args.output, 'weightType': args.weight_type,
                      'quantizedNodes': len(replaced), 'excluded': args.exclude,
                      'bytesIn': Path(args.input).stat().st_size, 'bytesOut': Path(args.output).stat().st_size}))


if __name__ == '__main__':
    sys.exit(main())
