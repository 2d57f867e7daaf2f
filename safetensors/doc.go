// Package safetensors reads and writes the safetensors tensor file format
// used by PyTorch and Hugging Face (https://huggingface.co/docs/safetensors).
//
// A file is an 8-byte little-endian header length N, N bytes of JSON header
// and a data section:
//
//	{"__metadata__": {"format": "pt"},
//	 "fc.bias": {"dtype": "F32", "shape": [10], "data_offsets": [0, 40]}, ...}
//
// Offsets are relative to the start of the data section; tensors are stored
// little-endian in C order, and their byte ranges must cover the data section
// exactly. The header may be padded with spaces to an 8-byte boundary.
//
// Read validates untrusted input completely and reports malformed files as
// errors that name the offending tensor; it allocates memory only in
// proportion to the input actually present (headers are limited to
// [MaxHeaderSize]). Write lays files out as the reference Rust/Python library
// does, and WriteFile replaces files atomically.
package safetensors
