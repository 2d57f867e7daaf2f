package cifar10

import (
	"math/bits"

	"github.com/pkg/errors"
)

// Geometry of a CIFAR-10 image and record.
const (
	Width       = 32                  // image width in pixels
	Height      = 32                  // image height in pixels
	Channels    = 3                   // red, green, blue planes
	PlaneLen    = Width * Height      // bytes (or floats) in one channel plane
	ImageLen    = Channels * PlaneLen // bytes (or floats) in one CHW image: 3,072
	RecordLen   = 1 + ImageLen        // bytes in one file record: label, then pixels
	NumClasses  = 10                  // number of classes; labels are 0..9
	TrainImages = 50000               // images in data_batch_1..5 of the official set
	TestImages  = 10000               // images in test_batch of the official set
)

// PaperValidationImages is the size of the validation split the ResNet paper
// holds out of the 50,000 training images (leaving 45,000 for training).
const PaperValidationImages = 5000

// ClassNames holds the class name of each label, as in batches.meta.txt.
var ClassNames = [NumClasses]string{
	"airplane", "automobile", "bird", "cat", "deer",
	"dog", "frog", "horse", "ship", "truck",
}

// Set is a list of images with their labels, kept as raw bytes.
type Set struct {
	// Pixels holds Len() images of ImageLen bytes each. Every image is CHW:
	// the red plane, then green, then blue, each 32x32 row-major, 0..255.
	Pixels []byte
	// Labels holds the class of each image, 0..NumClasses-1.
	Labels []uint8
}

// Dataset is the whole CIFAR-10 data set.
type Dataset struct {
	Train *Set // data_batch_1.bin .. data_batch_5.bin, in file order
	Test  *Set // test_batch.bin, in file order
}

// Len returns the number of images in s.
func (s *Set) Len() int { return len(s.Labels) }

// Image returns the ImageLen bytes of image i. The slice aliases s.Pixels.
func (s *Set) Image(i int) []byte { return s.Pixels[i*ImageLen : (i+1)*ImageLen] }

// Head returns a set of the first n images of s (all of them if n <= 0 or
// n >= s.Len()), for quick runs on part of the data. It shares memory with s.
func (s *Set) Head(n int) *Set {
	if n <= 0 || n >= s.Len() {
		return s
	}
	return &Set{Pixels: s.Pixels[: n*ImageLen : n*ImageLen], Labels: s.Labels[:n:n]}
}

// Subset returns a new set holding copies of the images at the given indices,
// in that order.
func (s *Set) Subset(indices []int) *Set {
	out := &Set{Pixels: make([]byte, len(indices)*ImageLen), Labels: make([]uint8, len(indices))}
	for j, i := range indices {
		copy(out.Pixels[j*ImageLen:], s.Image(i))
		out.Labels[j] = s.Labels[i]
	}
	return out
}

// ClassCounts returns how many images of each class s holds.
func (s *Set) ClassCounts() [NumClasses]int {
	var n [NumClasses]int
	for _, l := range s.Labels {
		if int(l) < NumClasses {
			n[l]++
		}
	}
	return n
}

// Split holds out validation images drawn at random (a fixed function of seed)
// and returns the rest as train. Both keep the original relative order of their
// images, so train.Head(n) still means "the first n training images". The
// paper's split is s.Split(PaperValidationImages, seed) on the 50,000 images.
func (s *Set) Split(validation int, seed uint64) (train, val *Set, err error) {
	if validation < 0 || validation >= s.Len() {
		return nil, nil, errors.Errorf("cifar10: cannot hold out %d of %d images for validation", validation, s.Len())
	}
	perm := make([]int32, s.Len())
	shuffle(perm, mix(seed^splitDomain))
	held := make([]bool, s.Len())
	for _, i := range perm[:validation] {
		held[i] = true
	}
	var trainIdx, valIdx []int
	for i, h := range held {
		if h {
			valIdx = append(valIdx, i)
		} else {
			trainIdx = append(trainIdx, i)
		}
	}
	return s.Subset(trainIdx), s.Subset(valIdx), nil
}

// Domains keep the random streams for different purposes apart even when they
// are fed the same seed.
const (
	splitDomain   = 0x5b17_0000_0000_0001
	shuffleDomain = 0x5b17_0000_0000_0002
	augmentDomain = 0x5b17_0000_0000_0003
)

// mix is the SplitMix64 finalizer: a bijective hash whose output bits all
// depend on all input bits. Everything random in this package derives from it,
// so the streams are fixed forever and need no allocation.
func mix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// splitMix64 is the SplitMix64 generator.
type splitMix64 uint64

func (s *splitMix64) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	return mix(uint64(*s) - 0x9e3779b97f4a7c15)
}

// below returns a uniform integer in [0, n) (Lemire's multiply-and-reject).
func (s *splitMix64) below(n uint64) uint64 {
	hi, lo := bits.Mul64(s.next(), n)
	if lo < n {
		threshold := -n % n
		for lo < threshold {
			hi, lo = bits.Mul64(s.next(), n)
		}
	}
	return hi
}

// shuffle sets perm to a random permutation of 0..len(perm)-1 that depends only
// on state, not on perm's previous contents (Fisher-Yates).
func shuffle(perm []int32, state uint64) {
	for i := range perm {
		perm[i] = int32(i)
	}
	r := splitMix64(state)
	for i := len(perm) - 1; i > 0; i-- {
		j := r.below(uint64(i + 1))
		perm[i], perm[j] = perm[j], perm[i]
	}
}
