"""What every ONNX encoder shares: the model directory card, ``hf://`` snapshots, onnxruntime
sessions, tokenization and int8/fp16 graphs. Imports no heavy library (they load on first use)."""
