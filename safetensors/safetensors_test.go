package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// rawFile assembles a file from a header, unpadded, and data bytes.
func rawFile(header string, data ...byte) []byte {
	return withLength(uint64(len(header)), header, data...)
}

// padded appends spaces to header up to a multiple of 8 bytes.
func padded(header string) string {
	return header + strings.Repeat(" ", (8-len(header)%8)%8)
}

// withLength assembles a file with an arbitrary declared header length.
func withLength(n uint64, header string, data ...byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, n)
	b = append(b, header...)
	return append(b, data...)
}

func mustWrite(t *testing.T, f *File) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, f); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

func mustRead(t *testing.T, b []byte) *File {
	t.Helper()
	f, err := Read(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return f
}

func TestGoldenTiny(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "tiny.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	// The same bytes, assembled from the specification (see testdata/README.md).
	header := `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}` + "  "
	byHand := rawFile(header, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40)
	if !bytes.Equal(golden, byHand) {
		t.Fatalf("testdata/tiny.safetensors differs from the hand-built bytes")
	}

	f := &File{Tensors: []Tensor{FromFloat32("a", []int{2}, []float32{1, 2})}}
	if got := mustWrite(t, f); !bytes.Equal(got, golden) {
		t.Errorf("Write:\n got %q\nwant %q", got, golden)
	}
	read, err := ReadFile(filepath.Join("testdata", "tiny.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	a, ok := read.Get("a")
	if !ok {
		t.Fatal(`Get("a") found nothing`)
	}
	values, err := a.Float32s()
	if err != nil || !reflect.DeepEqual(values, []float32{1, 2}) || !reflect.DeepEqual(a.Shape, []int{2}) {
		t.Errorf("a = %v %v, %v; want [1 2] [2]", values, a.Shape, err)
	}
}

// TestReferenceLayout checks, on headers built by hand, the layout choices
// of the reference implementation that Write reproduces: "__metadata__"
// first, tensors by decreasing dtype alignment then by name, an empty file
// as "{}" padded to 8 bytes.
func TestReferenceLayout(t *testing.T) {
	tests := []struct {
		name string
		file *File
		want []byte
	}{
		{"empty", &File{}, rawFile(`{}      `)},
		{
			"metadata only",
			&File{Metadata: map[string]string{"format": "pt"}},
			rawFile(`{"__metadata__":{"format":"pt"}}`),
		},
		{
			"empty metadata",
			&File{Metadata: map[string]string{}},
			rawFile(padded(`{"__metadata__":{}}`)),
		},
		{
			"dtype order then name",
			&File{
				Metadata: map[string]string{"z": "1", "a": "2"},
				Tensors: []Tensor{
					FromFloat32("a", []int{1}, []float32{1}),
					{Name: "m", DType: U8, Shape: []int{2}, Data: []byte{7, 8}},
					FromInt64("n", nil, []int64{-1}),
					FromFloat32("b", []int{0}, nil),
				},
			},
			rawFile(padded(`{"__metadata__":{"a":"2","z":"1"},`+
				`"n":{"dtype":"I64","shape":[],"data_offsets":[0,8]},`+
				`"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},`+
				`"b":{"dtype":"F32","shape":[0],"data_offsets":[12,12]},`+
				`"m":{"dtype":"U8","shape":[2],"data_offsets":[12,14]}}`),
				0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				0x00, 0x00, 0x80, 0x3f,
				7, 8),
		},
		{
			"escaping",
			&File{Tensors: []Tensor{{Name: "q\"\\\n\x01é<>\u2028", DType: Bool, Shape: []int{}, Data: []byte{1}}}},
			rawFile(padded(`{"q\"\\\n\u0001é<>`+"\u2028"+`":{"dtype":"BOOL","shape":[],"data_offsets":[0,1]}}`), 1),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustWrite(t, tt.file)
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("Write:\n got %q\nwant %q", got, tt.want)
			}
			if binary.LittleEndian.Uint64(got)%8 != 0 {
				t.Errorf("header is not padded to 8 bytes")
			}
			back := mustRead(t, got)
			if !bytes.Equal(mustWrite(t, back), got) {
				t.Errorf("Read then Write changed the bytes")
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	nan := math.Float32frombits(0x7fc01234) // a NaN with a payload
	f := &File{
		Metadata: map[string]string{"format": "pt", "note": "ünïcode \"quoted\"\n"},
		Tensors: []Tensor{
			FromFloat32("conv.weight", []int{2, 1, 2, 2}, []float32{1, -2, 3.5, float32(math.Inf(1)), 0, nan, float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32}),
			FromFloat32("scalar32", []int{}, []float32{42}),
			FromFloat32("empty", []int{0}, nil),
			FromFloat32("empty3d", []int{2, 0, 3}, []float32{}),
			FromFloat64("f64", []int{3}, []float64{math.Pi, math.MaxFloat64, math.Copysign(0, -1)}),
			FromInt64("bn.num_batches_tracked", nil, []int64{math.MinInt64}),
			FromInt64("i64", []int{1, 1, 2}, []int64{math.MaxInt64, -7}),
			FromInt32("i32", []int{2}, []int32{math.MinInt32, 5}),
			{Name: "bf16", DType: BF16, Shape: []int{2}, Data: []byte{0x80, 0x3f, 0x00, 0xc0}},
			{Name: "mask", DType: Bool, Shape: []int{3}, Data: []byte{1, 0, 1}},
			{Name: "u8", DType: U8, Shape: []int{1, 3}, Data: []byte{0, 128, 255}},
			{Name: "c64", DType: C64, Shape: []int{1}, Data: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
		},
	}
	encoded := mustWrite(t, f)
	for _, reader := range []struct {
		name string
		r    func() *File
	}{
		{"sized", func() *File { return mustRead(t, encoded) }},
		{"unsized", func() *File {
			got, err := Read(iotest.OneByteReader(bytes.NewReader(encoded)))
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			return got
		}},
	} {
		t.Run(reader.name, func(t *testing.T) {
			got := reader.r()
			if !reflect.DeepEqual(got.Metadata, f.Metadata) {
				t.Errorf("Metadata = %q, want %q", got.Metadata, f.Metadata)
			}
			if len(got.Tensors) != len(f.Tensors) {
				t.Fatalf("%d tensors, want %d", len(got.Tensors), len(f.Tensors))
			}
			for i := 1; i < len(got.Tensors); i++ {
				if got.Tensors[i-1].Name >= got.Tensors[i].Name {
					t.Errorf("tensors not sorted by name: %q before %q", got.Tensors[i-1].Name, got.Tensors[i].Name)
				}
			}
			for _, want := range f.Tensors {
				tensor, ok := got.Get(want.Name)
				if !ok {
					t.Errorf("tensor %q missing", want.Name)
					continue
				}
				if tensor.DType != want.DType || !reflect.DeepEqual(tensor.Shape, want.Shape) || !bytes.Equal(tensor.Data, want.Data) {
					t.Errorf("tensor %q = %s %v %x, want %s %v %x", want.Name,
						tensor.DType, tensor.Shape, tensor.Data, want.DType, want.Shape, want.Data)
				}
				if len(tensor.Data) != cap(tensor.Data) {
					t.Errorf("tensor %q: Data has spare capacity into its neighbour", want.Name)
				}
			}
			if again := mustWrite(t, got); !bytes.Equal(again, encoded) {
				t.Errorf("writing the file read back gives different bytes")
			}
		})
	}

	got := mustRead(t, encoded)
	w, _ := got.Get("conv.weight")
	values, err := w.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range values {
		if wantBits := binary.LittleEndian.Uint32(f.Tensors[0].Data[4*i:]); math.Float32bits(v) != wantBits {
			t.Errorf("conv.weight[%d] bits %#x, want %#x", i, math.Float32bits(v), wantBits)
		}
	}
	if v, err := mustGet(t, got, "f64").Float64s(); err != nil || v[0] != math.Pi || !math.Signbit(v[2]) {
		t.Errorf("f64 = %v, %v", v, err)
	}
	if v, err := mustGet(t, got, "bn.num_batches_tracked").Int64s(); err != nil || !reflect.DeepEqual(v, []int64{math.MinInt64}) {
		t.Errorf("num_batches_tracked = %v, %v", v, err)
	}
	if v, err := mustGet(t, got, "i32").Int32s(); err != nil || !reflect.DeepEqual(v, []int32{math.MinInt32, 5}) {
		t.Errorf("i32 = %v, %v", v, err)
	}
	if v, err := mustGet(t, got, "empty3d").Float32s(); err != nil || len(v) != 0 {
		t.Errorf("empty3d = %v, %v", v, err)
	}
	if _, ok := got.Get("absent"); ok {
		t.Errorf(`Get("absent") found a tensor`)
	}
}

func mustGet(t *testing.T, f *File, name string) Tensor {
	t.Helper()
	tensor, ok := f.Get(name)
	if !ok {
		t.Fatalf("tensor %q missing", name)
	}
	return tensor
}

func TestAccessorErrors(t *testing.T) {
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"wrong dtype", func() error { _, err := FromInt64("n", nil, []int64{1}).Float32s(); return err }, `tensor "n" has dtype I64, not F32`},
		{"wrong dtype f64", func() error { _, err := FromFloat32("x", nil, []float32{1}).Float64s(); return err }, `has dtype F32, not F64`},
		{"wrong dtype i64", func() error { _, err := FromInt32("x", nil, []int32{1}).Int64s(); return err }, `has dtype I32, not I64`},
		{"wrong dtype i32", func() error { _, err := FromFloat64("x", nil, []float64{1}).Int32s(); return err }, `has dtype F64, not I32`},
		{"shape mismatch", func() error { _, err := FromFloat32("w", []int{2, 2}, []float32{1}).Float32s(); return err }, `tensor "w": dtype F32 with shape [2,2] needs 16 bytes of data, has 4`},
		{"negative dim", func() error { _, err := FromFloat32("w", []int{-1}, nil).Float32s(); return err }, `shape [-1] has a negative dimension`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestWriteRejects(t *testing.T) {
	ok := FromFloat32("ok", []int{1}, []float32{1})
	tests := []struct {
		name string
		file *File
		want string
	}{
		{"nil file", nil, "nil *File"},
		{"duplicate names", &File{Tensors: []Tensor{ok, ok}}, `two tensors are named "ok"`},
		{"reserved name", &File{Tensors: []Tensor{FromFloat32("__metadata__", nil, []float32{1})}}, `"__metadata__" is reserved`},
		{"invalid UTF-8 name", &File{Tensors: []Tensor{FromFloat32("a\xff", nil, []float32{1})}}, "not valid UTF-8"},
		{"invalid UTF-8 metadata", &File{Metadata: map[string]string{"k": "\xfe"}}, `__metadata__["k"] is not valid UTF-8`},
		{"unknown dtype", &File{Tensors: []Tensor{{Name: "x", DType: "F128", Shape: []int{}, Data: nil}}}, `tensor "x": unsupported dtype "F128"`},
		{"short data", &File{Tensors: []Tensor{FromFloat32("x", []int{3}, []float32{1, 2})}}, `tensor "x": dtype F32 with shape [3] needs 12 bytes of data, has 8`},
		{"long data", &File{Tensors: []Tensor{FromInt64("x", []int{}, []int64{1, 2})}}, `tensor "x": dtype I64 with shape [] needs 8 bytes of data, has 16`},
		{"negative dim", &File{Tensors: []Tensor{FromFloat32("x", []int{2, -1}, nil)}}, `tensor "x": shape [2,-1] has a negative dimension`},
		{"overflow", &File{Tensors: []Tensor{FromFloat32("x", []int{math.MaxInt / 2, 3}, nil)}}, `tensor "x": shape`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Write(&buf, tt.file)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
			if buf.Len() != 0 {
				t.Errorf("Write wrote %d bytes before failing", buf.Len())
			}
		})
	}
}

func TestWriteReportsWriterErrors(t *testing.T) {
	f := &File{Tensors: []Tensor{FromFloat32("a", []int{2}, []float32{1, 2})}}
	for _, limit := range []int{0, 8, 64} {
		err := Write(&failingWriter{limit: limit}, f)
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("limit %d: error %v, want disk full", limit, err)
		}
	}
}

// failingWriter accepts limit bytes, then fails.
type failingWriter struct{ limit, written int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.written+len(p) > w.limit {
		return 0, errDiskFull
	}
	w.written += len(p)
	return len(p), nil
}

var errDiskFull = errors.New("disk full")
