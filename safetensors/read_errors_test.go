package safetensors

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// entry is one well-formed tensor description for building bad headers.
func entry(name, dtype, shape, offsets string) string {
	return `"` + name + `":{"dtype":"` + dtype + `","shape":` + shape + `,"data_offsets":` + offsets + `}`
}

var eightBytes = []byte{1, 2, 3, 4, 5, 6, 7, 8}

// malformedFiles are inputs Read must reject, with a fragment of the
// expected error. They also seed FuzzRead.
var malformedFiles = []struct {
	name  string
	input []byte
	want  string
}{
	{"empty input", nil, "shorter than the 8-byte header length"},
	{"truncated length", []byte{8, 0, 0}, "shorter than the 8-byte header length"},
	{"header length above limit", withLength(MaxHeaderSize+1, "{}"), "header length 100000001 exceeds the limit of 100000000 bytes"},
	{"negative header length", withLength(1<<64-1, "{}"), "header length 18446744073709551615 exceeds the limit"},
	{"header length beyond input", withLength(100, "{}      "), "header length 100 exceeds the 8 bytes left in the input"},
	{"invalid UTF-8", rawFile("{\"\xff\":1}"), "header is not valid UTF-8"},
	{"bad JSON", rawFile(`{"a":`), "header is not valid JSON"},
	{"bad JSON token", rawFile(`{"a":{"dtype":F32}}`), "header is not valid JSON"},
	{"header not an object", rawFile(`[]`), "header must be an object, found an array"},
	{"header is a string", rawFile(`"x"`), "header must be an object, found a string"},
	{"trailing value", rawFile(`{}{}`), "header has an object after its JSON object"},
	{"trailing garbage", rawFile(`{} x`), "header is not valid JSON"},
	{"NUL padding", rawFile("{}\x00\x00"), "header is not valid JSON"},
	{"entry not an object", rawFile(`{"a":1}`), `tensor "a" must be an object, found a number`},
	{"entry null", rawFile(`{"a":null}`), `tensor "a" must be an object, found null`},
	{"dtype not a string", rawFile(`{"a":{"dtype":4,"shape":[],"data_offsets":[0,4]}}`), `tensor "a": dtype must be a string, found a number`},
	{"unknown dtype", rawFile(`{"a":{"dtype":"F128","shape":[],"data_offsets":[0,16]}}`), `tensor "a": unknown dtype "F128"`},
	{"lower-case dtype", rawFile(`{"a":{"dtype":"f32","shape":[],"data_offsets":[0,4]}}`), `tensor "a": unknown dtype "f32"`},
	{"shape not an array", rawFile(`{"a":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}`), `tensor "a": shape must be an array, found a string`},
	{"shape of strings", rawFile(`{"a":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}`), `tensor "a": shape must hold non-negative integers, found a string`},
	{"nested shape", rawFile(`{"a":{"dtype":"F32","shape":[[2]],"data_offsets":[0,8]}}`), `tensor "a": shape must hold non-negative integers, found an array`},
	{"negative dimension", rawFile(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}`), `tensor "a": shape must hold non-negative integers below 2^64, found -1`},
	{"fractional dimension", rawFile(`{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,10]}}`), `found 2.5`},
	{"exponent dimension", rawFile(`{"a":{"dtype":"F32","shape":[2e0],"data_offsets":[0,8]}}`), `found 2e0`},
	{"dimension above 2^64", rawFile(`{"a":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,0]}}`), `found 18446744073709551616`},
	{"dimension above MaxInt", rawFile(`{"a":{"dtype":"U8","shape":[9223372036854775808],"data_offsets":[0,0]}}`), `tensor "a": shape dimension 9223372036854775808 does not fit in an int`},
	{"offsets not an array", rawFile(`{"a":{"dtype":"F32","shape":[],"data_offsets":{}}}`), `tensor "a": data_offsets must be an array, found an object`},
	{"one offset", rawFile(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0]}}`), `tensor "a": data_offsets must be [begin, end], found 1 numbers`},
	{"three offsets", rawFile(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4,8]}}`, 1, 2, 3, 4), `found 3 numbers`},
	{"negative offset", rawFile(`{"a":{"dtype":"F32","shape":[],"data_offsets":[-4,0]}}`), `tensor "a": data_offsets must hold non-negative integers below 2^64, found -4`},
	{"missing dtype", rawFile(`{"a":{"shape":[],"data_offsets":[0,4]}}`), `tensor "a" has no "dtype" field`},
	{"missing shape", rawFile(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`), `tensor "a" has no "shape" field`},
	{"missing offsets", rawFile(`{"a":{"dtype":"F32","shape":[]}}`), `tensor "a" has no "data_offsets" field`},
	{"duplicate field", rawFile(`{"a":{"dtype":"F32","dtype":"F64","shape":[],"data_offsets":[0,4]}}`), `tensor "a" has the field "dtype" twice`},
	{"duplicate tensor", rawFile(`{`+entry("a", "F32", "[]", "[0,4]")+`,`+entry("a", "F32", "[]", "[4,8]")+`}`, eightBytes...), `header has the key "a" twice`},
	{"duplicate metadata", rawFile(`{"__metadata__":{},"__metadata__":{}}`), `header has the key "__metadata__" twice`},
	{"metadata not an object", rawFile(`{"__metadata__":[]}`), `__metadata__ must be an object of strings, found an array`},
	{"metadata number value", rawFile(`{"__metadata__":{"epoch":3}}`), `__metadata__["epoch"] must be a string, found a number`},
	{"metadata nested value", rawFile(`{"__metadata__":{"x":{"y":"z"}}}`), `__metadata__["x"] must be a string, found an object`},
	{"metadata duplicate key", rawFile(`{"__metadata__":{"k":"1","k":"2"}}`), `__metadata__ has the key "k" twice`},
	{"deeply nested unknown field", rawFile(`{"a":{"x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}}`), "header is not valid JSON"},
	{"begin after end", rawFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, eightBytes...), `tensor "a": data_offsets [8,0] end before they begin`},
	{"size mismatch", rawFile(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, eightBytes...), `tensor "a": dtype F32 with shape [3] needs 12 bytes, but data_offsets [0,8] span 8`},
	{"element count overflow", rawFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,0]}}`), `tensor "a": shape [4294967296,4294967296,4] has more elements than fit in an int`},
	{"overflow hidden by a zero", rawFile(`{"a":{"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}}`), `has more elements than fit in an int`},
	{"byte size overflow", rawFile(`{"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}}`), `tensor "a": shape [2305843009213693952] of dtype F64 has more bytes than fit in an int`},
	{"offsets beyond the data", rawFile(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, eightBytes...), `tensor "a" ends at offset 16, beyond the 8-byte data section`},
	{"huge offsets", rawFile(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[18446744073709551615,18446744073709551615]}}`), `tensor "a": data_offsets [18446744073709551615,18446744073709551615] leave a gap: expected the tensor to begin at 0`},
	{"huge tensor, little data", rawFile(`{"a":{"dtype":"U8","shape":[1000000000000],"data_offsets":[0,1000000000000]}}`, eightBytes...), `tensor "a" ends at offset 1000000000000, beyond the 8-byte data section`},
	{"not starting at zero", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eightBytes...), `tensor "a": data_offsets [4,8] leave a gap: expected the tensor to begin at 0`},
	{"overlap", rawFile(`{`+entry("a", "F32", "[2]", "[0,8]")+`,`+entry("b", "F32", "[1]", "[4,8]")+`}`, eightBytes...), `tensor "b": data_offsets [4,8] overlap tensor "a", which ends at 8`},
	{"same range twice", rawFile(`{`+entry("a", "F32", "[2]", "[0,8]")+`,`+entry("b", "F32", "[2]", "[0,8]")+`}`, eightBytes...), `tensor "b": data_offsets [0,8] overlap tensor "a", which ends at 8`},
	{"gap", rawFile(`{`+entry("a", "U8", "[2]", "[0,2]")+`,`+entry("b", "U8", "[2]", "[4,6]")+`}`, 1, 2, 3, 4, 5, 6), `tensor "b": data_offsets [4,6] leave a gap: expected the tensor to begin at 2`},
	{"trailing data", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, eightBytes...), `the last tensor "a", which ends at offset 4`},
	{"data without tensors", rawFile(`{}`, 1), "the header declares no tensors, but data follows it"},
}

func TestReadRejectsMalformedFiles(t *testing.T) {
	for _, tt := range malformedFiles {
		t.Run(tt.name, func(t *testing.T) {
			for _, reader := range []struct {
				kind string
				r    io.Reader
			}{
				{"sized", bytes.NewReader(tt.input)},
				{"unsized", iotest.HalfReader(bytes.NewReader(tt.input))},
			} {
				kind := reader.kind
				f, err := Read(reader.r)
				if err == nil {
					t.Fatalf("%s: Read accepted the input: %+v", kind, f)
				}
				if !strings.HasPrefix(err.Error(), "safetensors: read: ") {
					t.Errorf("%s: error %q lacks the package prefix", kind, err)
				}
				if kind == "unsized" && strings.Contains(tt.name, "beyond") {
					continue // sizes are only known to differ after reading
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Errorf("%s: error\n%q\nwant it to contain\n%q", kind, err, tt.want)
				}
			}
		})
	}
}

func TestReadUnsizedErrors(t *testing.T) {
	tests := []struct {
		name  string
		input []byte
		want  string
	}{
		{"header length beyond input", withLength(100, "{}      "), "header length 100 exceeds the 8 bytes left in the input"},
		{"offsets beyond the data", rawFile(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, eightBytes...), `tensor "a" ends at offset 16, beyond the 8-byte data section`},
		{"huge tensor, little data", rawFile(`{"a":{"dtype":"U8","shape":[1000000000000],"data_offsets":[0,1000000000000]}}`, eightBytes...), `beyond the 8-byte data section`},
	}
	for _, tt := range tests {
		_, err := Read(iotest.OneByteReader(bytes.NewReader(tt.input)))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

func TestReadIOError(t *testing.T) {
	valid := rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, eightBytes...)
	for _, cut := range []int{4, 12, len(valid) - 2} {
		r := iotest.TimeoutReader(iotest.DataErrReader(bytes.NewReader(valid[:cut])))
		if _, err := Read(r); err == nil {
			t.Errorf("cut at %d: Read succeeded", cut)
		}
		_, err := Read(&erroringReader{data: valid[:cut]})
		if err == nil || !strings.Contains(err.Error(), "device unplugged") {
			t.Errorf("cut at %d: error %v, want the reader's error", cut, err)
		}
	}
}

// erroringReader returns data, then a non-EOF error.
type erroringReader struct{ data []byte }

func (r *erroringReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, errUnplugged
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

var errUnplugged = &unpluggedError{}

type unpluggedError struct{}

func (*unpluggedError) Error() string { return "device unplugged" }

func TestReadAcceptsLenientForms(t *testing.T) {
	tests := []struct {
		name  string
		input []byte
	}{
		{"unpadded", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, eightBytes...)},
		{"whitespace", rawFile(" \n{ \"a\" : {\"data_offsets\":[0,8],\t\"shape\":[2],\"dtype\":\"F32\"} }\r\n   ", eightBytes...)},
		{"unknown field", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":{"x":[1,null]}}}`, eightBytes...)},
		{"null metadata", rawFile(`{"__metadata__":null,"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, eightBytes...)},
		{"escaped name", rawFile(`{"\u0061":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, eightBytes...)},
		{"offsets out of name order", rawFile(`{`+entry("b", "F32", "[1]", "[0,4]")+`,`+entry("a", "F32", "[1]", "[4,8]")+`}`, eightBytes...)},
	}
	for _, tt := range tests {
		f, err := Read(bytes.NewReader(tt.input))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if tt.name == "offsets out of name order" {
			if b := mustGet(t, f, "b"); !bytes.Equal(b.Data, eightBytes[:4]) {
				t.Errorf("%s: b = %v", tt.name, b.Data)
			}
			continue
		}
		if a := mustGet(t, f, "a"); !bytes.Equal(a.Data, eightBytes) || f.Metadata != nil {
			t.Errorf("%s: got %+v", tt.name, f)
		}
	}
}

func TestReadZeroSizeTensorsShareOffsets(t *testing.T) {
	input := rawFile(`{`+entry("z1", "F32", "[0]", "[4,4]")+`,`+entry("a", "F32", "[1]", "[0,4]")+`,`+
		entry("z2", "I64", "[3,0]", "[4,4]")+`,`+entry("b", "F32", "[1]", "[4,8]")+`,`+entry("z0", "U8", "[0]", "[0,0]")+`}`, eightBytes...)
	f := mustRead(t, input)
	if len(f.Tensors) != 5 {
		t.Fatalf("%d tensors, want 5", len(f.Tensors))
	}
	if z := mustGet(t, f, "z2"); len(z.Data) != 0 || z.Shape[0] != 3 {
		t.Errorf("z2 = %+v", z)
	}
}

func TestReadFileErrorsNamePath(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.safetensors")
	if _, err := ReadFile(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: error %v does not name %s", err, missing)
	}
	bad := filepath.Join(dir, "bad.safetensors")
	if err := os.WriteFile(bad, malformedFiles[len(malformedFiles)-2].input, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(bad)
	if err == nil || !strings.Contains(err.Error(), "safetensors: read "+bad+": 4 bytes of data follow the last tensor") {
		t.Errorf("bad file: error %v", err)
	}
	if _, err := ReadFile(dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("directory: error %v does not name %s", err, dir)
	}
}
