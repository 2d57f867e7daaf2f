package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/pkg/errors"
)

// Tensor is one named tensor of a safetensors file.
//
// Data holds the elements as raw little-endian bytes in C (row-major) order;
// its length must be the product of Shape times DType.Size(). An empty Shape
// is a scalar of one element; a Shape with a zero dimension has no data.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// File is the content of a safetensors file.
type File struct {
	// Tensors lists the tensors. Read returns them sorted by name; Write
	// accepts any order.
	Tensors []Tensor
	// Metadata is the optional free-form "__metadata__" map of the header.
	// Write stores it when it is non-nil, even if empty; Read returns nil
	// when the file has none.
	Metadata map[string]string
}

// Get returns the tensor called name and whether it exists.
func (f *File) Get(name string) (Tensor, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return Tensor{}, false
}

// FromFloat32 returns an F32 tensor holding a copy of values. The length of
// values must match shape; Write and the accessors report it if it does not.
func FromFloat32(name string, shape []int, values []float32) Tensor {
	data := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
	}
	return Tensor{Name: name, DType: F32, Shape: cloneShape(shape), Data: data}
}

// FromFloat64 returns an F64 tensor holding a copy of values. The length of
// values must match shape; Write and the accessors report it if it does not.
func FromFloat64(name string, shape []int, values []float64) Tensor {
	data := make([]byte, 8*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint64(data[8*i:], math.Float64bits(v))
	}
	return Tensor{Name: name, DType: F64, Shape: cloneShape(shape), Data: data}
}

// FromInt64 returns an I64 tensor holding a copy of values. The length of
// values must match shape; Write and the accessors report it if it does not.
func FromInt64(name string, shape []int, values []int64) Tensor {
	data := make([]byte, 8*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint64(data[8*i:], uint64(v))
	}
	return Tensor{Name: name, DType: I64, Shape: cloneShape(shape), Data: data}
}

// FromInt32 returns an I32 tensor holding a copy of values. The length of
// values must match shape; Write and the accessors report it if it does not.
func FromInt32(name string, shape []int, values []int32) Tensor {
	data := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(data[4*i:], uint32(v))
	}
	return Tensor{Name: name, DType: I32, Shape: cloneShape(shape), Data: data}
}

// Float32s decodes an F32 tensor. It fails if the tensor has another dtype
// or its data does not match its shape.
func (t Tensor) Float32s() ([]float32, error) {
	return decode(t, F32, func(b []byte) float32 {
		return math.Float32frombits(binary.LittleEndian.Uint32(b))
	})
}

// Float64s decodes an F64 tensor. It fails if the tensor has another dtype
// or its data does not match its shape.
func (t Tensor) Float64s() ([]float64, error) {
	return decode(t, F64, func(b []byte) float64 {
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	})
}

// Int64s decodes an I64 tensor. It fails if the tensor has another dtype or
// its data does not match its shape.
func (t Tensor) Int64s() ([]int64, error) {
	return decode(t, I64, func(b []byte) int64 {
		return int64(binary.LittleEndian.Uint64(b))
	})
}

// Int32s decodes an I32 tensor. It fails if the tensor has another dtype or
// its data does not match its shape.
func (t Tensor) Int32s() ([]int32, error) {
	return decode(t, I32, func(b []byte) int32 {
		return int32(binary.LittleEndian.Uint32(b))
	})
}

// decode converts the data of t, which must be of type want, element by
// element.
func decode[T any](t Tensor, want DType, convert func([]byte) T) ([]T, error) {
	if t.DType != want {
		return nil, errors.Errorf("safetensors: tensor %q has dtype %s, not %s", t.Name, t.DType, want)
	}
	if err := t.check(); err != nil {
		return nil, errors.WithMessage(err, "safetensors")
	}
	size := want.Size()
	out := make([]T, len(t.Data)/size)
	for i := range out {
		out[i] = convert(t.Data[i*size : (i+1)*size])
	}
	return out, nil
}

// check verifies that t has a supported dtype and that its data length
// matches its shape.
func (t Tensor) check() error {
	nbytes, err := byteSize(t.DType, t.Shape)
	if err != nil {
		return errors.Wrapf(err, "tensor %q", t.Name)
	}
	if len(t.Data) != nbytes {
		return errors.Errorf("tensor %q: dtype %s with shape %s needs %d bytes of data, has %d",
			t.Name, t.DType, shapeString(t.Shape), nbytes, len(t.Data))
	}
	return nil
}

// byteSize returns the number of data bytes of a tensor of the given dtype
// and shape. It fails for unsupported dtypes, negative dimensions and shapes
// whose sizes overflow an int. The product of the non-zero dimensions must
// fit in an int even when another dimension is zero, so that strides of
// empty tensors can be computed safely.
func byteSize(dtype DType, shape []int) (int, error) {
	size := dtype.Size()
	if size == 0 {
		return 0, errors.Errorf("unsupported dtype %q", string(dtype))
	}
	count, empty := 1, false
	for _, d := range shape {
		switch {
		case d < 0:
			return 0, errors.Errorf("shape %s has a negative dimension", shapeString(shape))
		case d == 0:
			empty = true
		case count > math.MaxInt/d:
			return 0, errors.Errorf("shape %s has more elements than fit in an int", shapeString(shape))
		default:
			count *= d
		}
	}
	if empty {
		return 0, nil
	}
	if count > math.MaxInt/size {
		return 0, errors.Errorf("shape %s of dtype %s has more bytes than fit in an int", shapeString(shape), dtype)
	}
	return count * size, nil
}

// shapeString formats a shape as the header spells it, e.g. [2,3] or [].
func shapeString(shape []int) string {
	b := []byte{'['}
	for i, d := range shape {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Append(b, d)
	}
	return string(append(b, ']'))
}

// cloneShape copies shape; a nil shape becomes the empty (scalar) shape.
func cloneShape(shape []int) []int {
	return append([]int{}, shape...)
}
