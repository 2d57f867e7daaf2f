package gemm_test

import (
	"fmt"

	"github.com/gorgonia-zoo/resnet/internal/gemm"
)

func ExampleSgemm() {
	// A is 2x3, B is 3x2, both row-major.
	a := []float32{
		1, 2, 3,
		4, 5, 6,
	}
	b := []float32{
		7, 8,
		9, 10,
		11, 12,
	}
	c := make([]float32, 2*2)
	gemm.Sgemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2)
	fmt.Println(c[0:2])
	fmt.Println(c[2:4])

	// C = A*A^T + C, with A^T taken in place.
	gemm.Sgemm(false, true, 2, 2, 3, 1, a, 3, a, 3, 1, c, 2)
	fmt.Println(c[0:2])
	fmt.Println(c[2:4])
	// Output:
	// [58 64]
	// [139 154]
	// [72 96]
	// [171 231]
}
