package safetensors_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/gorgonia-zoo/resnet/safetensors"
)

func Example() {
	weights := &safetensors.File{
		Metadata: map[string]string{"format": "pt"},
		Tensors: []safetensors.Tensor{
			safetensors.FromFloat32("fc.weight", []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
			safetensors.FromInt64("bn1.num_batches_tracked", nil, []int64{100}),
		},
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, weights); err != nil {
		log.Fatal(err)
	}

	loaded, err := safetensors.Read(&buf)
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range loaded.Tensors {
		fmt.Println(t.Name, t.DType, t.Shape, len(t.Data), "bytes")
	}
	fc, _ := loaded.Get("fc.weight")
	values, err := fc.Float32s()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(values, loaded.Metadata["format"])
	// Output:
	// bn1.num_batches_tracked I64 [] 8 bytes
	// fc.weight F32 [2 3] 24 bytes
	// [1 2 3 4 5 6] pt
}
