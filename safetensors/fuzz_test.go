package safetensors

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"testing/iotest"
)

// FuzzRead checks that Read never panics, that sized and unsized readers
// agree, and that every file Read accepts survives Write and Read unchanged.
// The seed corpus runs with go test; to search for new inputs run
//
//	go test -fuzz=FuzzRead -fuzztime=20s ./safetensors
func FuzzRead(f *testing.F) {
	golden, err := os.ReadFile(filepath.Join("testdata", "tiny.safetensors"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Add(rawFile(`{}      `))
	f.Add(rawFile(`{"__metadata__":{"format":"pt","k":"v"}}`))
	f.Add(rawFile(`{"__metadata__":null,"s":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}`, eightBytes...))
	f.Add(rawFile(`{`+entry("b", "F32", "[1]", "[0,4]")+`,`+entry("a", "U8", "[2,2]", "[4,8]")+`,`+
		entry("z", "BF16", "[0,3]", "[8,8]")+`}`, eightBytes...))
	var buf bytes.Buffer
	if err := Write(&buf, &File{
		Metadata: map[string]string{"\n": "\x00"},
		Tensors: []Tensor{
			FromFloat64("d", []int{1}, []float64{1}),
			FromInt32("i", []int{2, 1}, []int32{1, 2}),
			{Name: "\u2028\"", DType: F16, Shape: []int{1}, Data: []byte{0, 0x3c}},
		},
	}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	for _, bad := range malformedFiles {
		f.Add(bad.input)
	}

	f.Fuzz(func(t *testing.T, input []byte) {
		sized, err := Read(bytes.NewReader(input))
		unsized, errUnsized := Read(iotest.OneByteReader(bytes.NewReader(input)))
		if (err == nil) != (errUnsized == nil) {
			t.Fatalf("sized and unsized readers disagree: %v vs %v", err, errUnsized)
		}
		if err != nil {
			return
		}
		if !reflect.DeepEqual(sized, unsized) {
			t.Fatalf("sized and unsized readers disagree:\n%+v\n%+v", sized, unsized)
		}
		var first bytes.Buffer
		if err := Write(&first, sized); err != nil {
			t.Fatalf("Write of an accepted file failed: %v", err)
		}
		again, err := Read(bytes.NewReader(first.Bytes()))
		if err != nil {
			t.Fatalf("Read of Write's output failed: %v", err)
		}
		if !reflect.DeepEqual(sized, again) {
			t.Fatalf("round trip changed the file:\n%+v\n%+v", sized, again)
		}
		var second bytes.Buffer
		if err := Write(&second, again); err != nil || !bytes.Equal(first.Bytes(), second.Bytes()) {
			t.Fatalf("Write is not deterministic: %v", err)
		}
	})
}
