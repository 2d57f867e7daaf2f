package safetensors

// DType is the element type of a tensor, spelled as in a safetensors header
// ("F32", "I64", ...).
type DType string

// The element types this package understands. All of them can be read and
// written as raw bytes; [Tensor] has typed accessors for F32, F64, I64 and
// I32. The sub-byte types of the format (F4, F6_E2M3, F6_E3M2) are not
// supported.
const (
	Bool   DType = "BOOL"    // boolean, one byte
	U8     DType = "U8"      // unsigned 8-bit integer
	I8     DType = "I8"      // signed 8-bit integer
	F8E5M2 DType = "F8_E5M2" // 8-bit float, 5 exponent and 2 mantissa bits
	F8E4M3 DType = "F8_E4M3" // 8-bit float, 4 exponent and 3 mantissa bits
	F8E8M0 DType = "F8_E8M0" // 8-bit power-of-two scale
	I16    DType = "I16"     // signed 16-bit integer
	U16    DType = "U16"     // unsigned 16-bit integer
	F16    DType = "F16"     // IEEE 754 half precision
	BF16   DType = "BF16"    // bfloat16
	I32    DType = "I32"     // signed 32-bit integer
	U32    DType = "U32"     // unsigned 32-bit integer
	F32    DType = "F32"     // IEEE 754 single precision
	C64    DType = "C64"     // complex64: two F32, real part first
	F64    DType = "F64"     // IEEE 754 double precision
	I64    DType = "I64"     // signed 64-bit integer
	U64    DType = "U64"     // unsigned 64-bit integer
)

// dtypeInfo holds the element size of a DType and its rank, the position of
// the type in the reference implementation's list, which is ordered by
// increasing alignment. Writers place tensors of higher rank first.
type dtypeInfo struct {
	size int
	rank int
}

var dtypes = map[DType]dtypeInfo{
	Bool:   {1, 0},
	U8:     {1, 1},
	I8:     {1, 2},
	F8E5M2: {1, 3},
	F8E4M3: {1, 4},
	F8E8M0: {1, 5},
	I16:    {2, 6},
	U16:    {2, 7},
	F16:    {2, 8},
	BF16:   {2, 9},
	I32:    {4, 10},
	U32:    {4, 11},
	F32:    {4, 12},
	C64:    {8, 13},
	F64:    {8, 14},
	I64:    {8, 15},
	U64:    {8, 16},
}

// Size returns the number of bytes of one element of type d, or 0 if this
// package does not support d.
func (d DType) Size() int { return dtypes[d].size }
