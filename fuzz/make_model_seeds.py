# Writes the seed corpus of fuzz_model_file: two small MLP model files in nabla's format (a
# safetensors file whose __metadata__ records the model), one centred by a mean image, one
# normalised per channel. Plain Python: the format is an 8-byte header length, a JSON header and
# the tensors' bytes. Usage (from the repository root): python3 fuzz/make_model_seeds.py
import json
import random
import struct


def safetensors(tensors, metadata):
    header = {"__metadata__": metadata}
    blob = b""
    for name, shape in tensors:
        count = 1
        for d in shape:
            count *= d
        data = struct.pack("<%df" % count, *[random.uniform(-1, 1) for _ in range(count)])
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + blob


random.seed(0)
common = {"model": "mlp", "dataset": "folder", "classes": json.dumps(["a", "b", "c"]),
          "input_shape": json.dumps([1, 2, 2]),
          "config": json.dumps({"dnn_hidden_units": [3], "neg_slope": 0.02, "batchnorm": "none"})}
layers = [("fc1.weight", [3, 4]), ("fc1.bias", [3]), ("fc2.weight", [3, 3]), ("fc2.bias", [3])]
with open("fuzz/corpus/model_file/mlp_meanimage.safetensors", "wb") as f:
    f.write(safetensors(layers + [("mean_image", [1, 2, 2])], dict(common, normalize="meanimage")))
with open("fuzz/corpus/model_file/mlp_channel.safetensors", "wb") as f:
    f.write(safetensors(layers + [("channel_mean", [1]), ("channel_std", [1])],
                        dict(common, normalize="channel")))
