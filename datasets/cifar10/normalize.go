package cifar10

import (
	"math"
	"strconv"

	"github.com/pkg/errors"
)

// Normalization selects how raw pixels (0..255) become network inputs. Both
// first scale pixels to [0,1].
type Normalization int

const (
	// PerPixelMean subtracts the mean image of the training set, per pixel and
	// channel, as in the ResNet paper (He et al. 2015, section 4.2). Values are
	// not divided by a standard deviation.
	PerPixelMean Normalization = iota
	// PerChannel subtracts each channel's mean over the training set and
	// divides by its standard deviation, like torchvision's Normalize.
	PerChannel
)

var normalizationNames = [...]string{PerPixelMean: "per-pixel-mean", PerChannel: "per-channel"}

// String returns "per-pixel-mean" or "per-channel".
func (n Normalization) String() string {
	if n < 0 || int(n) >= len(normalizationNames) {
		return "Normalization(" + strconv.Itoa(int(n)) + ")"
	}
	return normalizationNames[n]
}

// MarshalText implements encoding.TextMarshaler, so saved statistics name
// their normalization instead of storing a bare number.
func (n Normalization) MarshalText() ([]byte, error) {
	if n < 0 || int(n) >= len(normalizationNames) {
		return nil, errors.Errorf("cifar10: unknown normalization %d", int(n))
	}
	return []byte(n.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler; it accepts the names
// String returns.
func (n *Normalization) UnmarshalText(text []byte) error {
	for i, name := range normalizationNames {
		if string(text) == name {
			*n = Normalization(i)
			return nil
		}
	}
	return errors.Errorf("cifar10: unknown normalization %q (want per-pixel-mean or per-channel)", clip(string(text)))
}

// Stats are the training-set statistics a Normalization uses, on the [0,1]
// scale. Save them with the weights: inference must normalize with the
// statistics the network was trained with.
type Stats struct {
	Normalization Normalization `json:"normalization"`
	// Mean has ImageLen values (a CHW mean image) for PerPixelMean and
	// Channels values (red, green, blue) for PerChannel.
	Mean []float32 `json:"mean"`
	// Std has Channels values for PerChannel and is empty for PerPixelMean.
	Std []float32 `json:"std,omitempty"`
}

// ComputeStats measures s for normalization n. Pass the images the network
// trains on (for example the 45,000 of the paper's split), never test images.
func ComputeStats(s *Set, n Normalization) (Stats, error) {
	if s.Len() == 0 {
		return Stats{}, errors.New("cifar10: cannot compute statistics of an empty set")
	}
	images := float64(s.Len())
	switch n {
	case PerPixelMean:
		var sums [ImageLen]uint64
		for i := 0; i < s.Len(); i++ {
			img := s.Image(i)
			for j, v := range img {
				sums[j] += uint64(v)
			}
		}
		st := Stats{Normalization: n, Mean: make([]float32, ImageLen)}
		for j, sum := range sums {
			st.Mean[j] = float32(float64(sum) / (images * 255))
		}
		return st, nil
	case PerChannel:
		var sum, sumSq [Channels]uint64
		for i := 0; i < s.Len(); i++ {
			img := s.Image(i)
			for c := 0; c < Channels; c++ {
				var s1, s2 uint64 // per image, so the compiler keeps them in registers
				for _, v := range img[c*PlaneLen : (c+1)*PlaneLen] {
					s1 += uint64(v)
					s2 += uint64(v) * uint64(v)
				}
				sum[c] += s1
				sumSq[c] += s2
			}
		}
		st := Stats{Normalization: n, Mean: make([]float32, Channels), Std: make([]float32, Channels)}
		count := images * PlaneLen
		for c := range sum {
			mean := float64(sum[c]) / (count * 255)
			variance := float64(sumSq[c])/(count*255*255) - mean*mean
			st.Mean[c] = float32(mean)
			st.Std[c] = float32(math.Sqrt(math.Max(variance, 0)))
		}
		return st, nil
	}
	return Stats{}, errors.Errorf("cifar10: unknown normalization %d", int(n))
}

// Normalize writes the normalized CHW float32 form of one raw image (ImageLen
// bytes) to dst (ImageLen floats), exactly as the iterators do for test
// images. Use it at inference time with the Stats saved at training time.
func (st Stats) Normalize(dst []float32, image []byte) error {
	if len(dst) < ImageLen || len(image) < ImageLen {
		return errors.Errorf("cifar10: Normalize needs %d bytes and %d floats, got %d and %d", ImageLen, ImageLen, len(image), len(dst))
	}
	n, err := newNormalizer(st)
	if err != nil {
		return err
	}
	n.plain(dst[:ImageLen], image[:ImageLen])
	return nil
}

// normalizer is Stats compiled into out = raw*scale[channel] + offset[pixel],
// one multiply-add per value whichever the normalization.
type normalizer struct {
	scale  [Channels]float32
	offset [ImageLen]float32
}

// Validate reports what makes st unusable: a count of values that does not
// fit its Normalization (ImageLen means and no std for PerPixelMean,
// Channels of each for PerChannel), a mean or std that is not finite, a std
// that is not positive, or an unknown Normalization.
func (st Stats) Validate() error {
	finite := func(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }
	switch st.Normalization {
	case PerPixelMean:
		if len(st.Mean) != ImageLen || len(st.Std) != 0 {
			return errors.Errorf("cifar10: per-pixel-mean statistics need %d means and no std, got %d and %d", ImageLen, len(st.Mean), len(st.Std))
		}
		for i, m := range st.Mean {
			if !finite(m) {
				return errors.Errorf("cifar10: mean %d is %v", i, m)
			}
		}
	case PerChannel:
		if len(st.Mean) != Channels || len(st.Std) != Channels {
			return errors.Errorf("cifar10: per-channel statistics need %d means and stds, got %d and %d", Channels, len(st.Mean), len(st.Std))
		}
		for c := range st.Mean {
			if m, s := st.Mean[c], st.Std[c]; !finite(m) || !finite(s) || s <= 0 {
				return errors.Errorf("cifar10: channel %d has mean %v and std %v", c, m, s)
			}
		}
	default:
		return errors.Errorf("cifar10: unknown normalization %d", int(st.Normalization))
	}
	return nil
}

func newNormalizer(st Stats) (*normalizer, error) {
	if err := st.Validate(); err != nil {
		return nil, err
	}
	n := &normalizer{}
	if st.Normalization == PerPixelMean {
		for c := range n.scale {
			n.scale[c] = 1.0 / 255
		}
		for i, m := range st.Mean {
			n.offset[i] = -m
		}
		return n, nil
	}
	for c := range n.scale {
		m, s := st.Mean[c], st.Std[c]
		n.scale[c] = 1 / (255 * s)
		off := -m / s
		for i := c * PlaneLen; i < (c+1)*PlaneLen; i++ {
			n.offset[i] = off
		}
	}
	return n, nil
}

// plain normalizes an image without augmentation.
func (n *normalizer) plain(dst []float32, src []byte) {
	for c := 0; c < Channels; c++ {
		scale := n.scale[c]
		d := dst[c*PlaneLen : (c+1)*PlaneLen]
		s := src[c*PlaneLen : (c+1)*PlaneLen]
		o := n.offset[c*PlaneLen : (c+1)*PlaneLen]
		for i := range d {
			d[i] = float32(s[i])*scale + o[i]
		}
	}
}

// augmented writes the normalized 32x32 window of src zero-padded by 4 pixels
// whose top-left corner is at (dx, dy) in padded coordinates (0..8), mirrored
// left-right if flip. As in torchvision, padding happens on raw pixels (value 0)
// and normalization after cropping, so the offset of the output position applies.
func (n *normalizer) augmented(dst []float32, src []byte, dx, dy int, flip bool) {
	ox, oy := dx-pad, dy-pad // source = output + offset
	// Output columns whose source column is inside the image.
	lo, hi := max(0, -ox), min(Width, Width-ox)
	if flip { // source column = Width-1-x+ox
		lo, hi = max(0, ox), min(Width, Width+ox)
	}
	for c := 0; c < Channels; c++ {
		scale := n.scale[c]
		plane := src[c*PlaneLen : (c+1)*PlaneLen]
		for y := 0; y < Height; y++ {
			d := dst[c*PlaneLen+y*Width : c*PlaneLen+(y+1)*Width]
			o := n.offset[c*PlaneLen+y*Width : c*PlaneLen+(y+1)*Width]
			sy := y + oy
			if sy < 0 || sy >= Height {
				copy(d, o) // a padding row: raw 0 normalizes to the offset
				continue
			}
			row := plane[sy*Width : (sy+1)*Width]
			copy(d[:lo], o[:lo])
			copy(d[hi:], o[hi:])
			if flip {
				for x := lo; x < hi; x++ {
					d[x] = float32(row[Width-1-x+ox])*scale + o[x]
				}
			} else {
				s := row[lo+ox : hi+ox]
				dd, oo := d[lo:hi], o[lo:hi]
				for i := range dd {
					dd[i] = float32(s[i])*scale + oo[i]
				}
			}
		}
	}
}

// pad is the zero padding of the random crop, in pixels per side.
const pad = 4
