// Package predict classifies PNG and JPEG images with the zoo's models.
//
// Preprocess turns an image into the model's CHW float32 input. ImageNet
// models get torchvision's standard evaluation transform: resize so the
// shorter side is 256, center-crop 224x224, scale to [0,1], normalize with
// mean 0.485,0.456,0.406 and std 0.229,0.224,0.225. The resize is
// torchvision's tensor path, F.resize(antialias=False): bilinear
// interpolation with align_corners=False on the uint8 image, rounded back to
// uint8 (half to even). torchvision pipelines on PIL images use PIL's
// bilinear filter, which antialiases when it shrinks, so their inputs differ
// slightly (a pixel value or two) when the image is much larger than 256.
//
// CIFAR models take 32x32 images as they are (other sizes are an error that
// names the file). ConfigFor normalizes inputs as the model's training did,
// with the cifar10.Stats that weights.InputNormalization reads from the
// weights' metadata (the same statistics evaluation uses), or that the
// caller chooses explicitly when the metadata lacks them: the mean image of
// per-pixel mean subtraction (CIFAR models only), or a per-channel mean
// and std, such as ImageNetStats.
//
// Images are untrusted input: LoadImage reads the format and size from a
// file's header and refuses, before decoding, anything but PNG and JPEG, an
// image of more pixels than the limit (DefaultMaxPixels unless the caller
// raises it, Config.MaxPixels), or a file longer than such an image can
// take; Preprocess refuses an image whose resized form exceeds the limit.
//
// Top5 runs a model in evaluation mode on models.Inference graphs (no
// gradients) and returns the five most probable classes of each image, with
// torchvision's ImageNet class names (shipped with the package) or
// CIFAR-10's.
package predict

import (
	"bytes"
	_ "embed"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // register the JPEG decoder
	_ "image/png"  // register the PNG decoder
	"io"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/gorgonia-zoo/resnet/datasets/cifar10"
	"github.com/gorgonia-zoo/resnet/models"
	"github.com/pkg/errors"
)

//go:embed imagenet_classes.txt
var imagenetText string

// ImageNetClasses returns the 1000 ImageNet class names in the order of
// torchvision's models (torchvision 0.14's ResNet50_Weights meta
// "categories"): "tench", "goldfish", ..., "toilet tissue".
func ImageNetClasses() []string {
	return strings.Split(strings.TrimSuffix(imagenetText, "\n"), "\n")
}

// Config says how images become model inputs and what the classes are
// called.
type Config struct {
	// Resize, when positive, resizes the image (bilinear, see the package
	// documentation) so that its shorter side has Resize pixels.
	Resize int
	// Crop, when positive, then takes the central Crop x Crop square,
	// padding with zeros (black) where the image is smaller.
	Crop int
	// Size, when positive, is the width and height images must already
	// have after Resize and Crop (CIFAR: 32, and no Resize or Crop).
	Size int
	// Mean and Std normalize each channel of the [0,1]-scaled image:
	// (v - Mean[c]) / Std[c], channels R, G, B.
	Mean, Std [3]float64
	// PixelMean, when non-nil, is a mean image (3 x H x W values, CHW) that
	// replaces Mean: (v - PixelMean[c,y,x]) / Std[c]. Images must then have
	// its size.
	PixelMean []float64
	// Classes names the model's outputs; missing names are "".
	Classes []string
	// MaxPixels is the largest image, width x height in pixels, that Top5
	// decodes and Preprocess takes, both as decoded and after Resize; zero
	// or less means DefaultMaxPixels, which says what decoding costs a
	// pixel.
	MaxPixels int
}

// DefaultMaxPixels is the pixel limit of LoadImage and Preprocess when the
// caller sets none (Config.MaxPixels): 40 megapixels, photos of up to
// 7,744 x 5,164. It bounds what decoding allocates, whatever size a file's
// header claims: at most about 24 bytes a pixel (a progressive CMYK JPEG,
// under 1 GB), 2 to 8 for ordinary PNG and JPEG files, and Preprocess
// another 3 to 6.
const DefaultMaxPixels = 40_000_000

// maxPixels is cfg's pixel limit.
func (cfg Config) maxPixels() int {
	if cfg.MaxPixels > 0 {
		return cfg.MaxPixels
	}
	return DefaultMaxPixels
}

// checkPixels refuses a w x h image of more than limit pixels, or of none;
// the error starts with what.
func checkPixels(what string, w, h, limit int) error {
	if w <= 0 || h <= 0 {
		return errors.Errorf("%s %dx%d pixels, want at least 1x1", what, w, h)
	}
	if n := int64(w) * int64(h); n > int64(limit) {
		return errors.Errorf("%s %dx%d = %d pixels, more than the limit of %d", what, w, h, n, limit)
	}
	return nil
}

// imagenetMean and imagenetStd are torchvision's ImageNet normalization.
var imagenetMean, imagenetStd = [3]float64{0.485, 0.456, 0.406}, [3]float64{0.229, 0.224, 0.225}

// ImageNetConfig is torchvision's ImageNet evaluation transform with the
// ImageNet class names.
func ImageNetConfig() Config {
	return Config{
		Resize: 256, Crop: 224,
		Mean:    imagenetMean,
		Std:     imagenetStd,
		Classes: ImageNetClasses(),
	}
}

// ImageNetStats is torchvision's ImageNet normalization as statistics for
// ConfigFor: per channel, mean 0.485,0.456,0.406 and std 0.229,0.224,0.225.
// It is the explicit choice for torchvision's ImageNet weights whose
// metadata does not record it (see weights.InputNormalization).
func ImageNetStats() cifar10.Stats {
	st := cifar10.Stats{Normalization: cifar10.PerChannel, Mean: make([]float32, 3), Std: make([]float32, 3)}
	for c := range st.Mean {
		st.Mean[c], st.Std[c] = float32(imagenetMean[c]), float32(imagenetStd[c])
	}
	return st
}

// CIFARConfig takes 32x32 images normalized with CIFAR-10's training-set
// statistics, with CIFAR-10's class names (a copy of cifar10.ClassNames).
func CIFARConfig() Config {
	return Config{
		Size:    32,
		Mean:    [3]float64{0.4914, 0.4822, 0.4465},
		Std:     [3]float64{0.2470, 0.2435, 0.2616},
		Classes: append([]string(nil), cifar10.ClassNames[:]...),
	}
}

// ConfigFor returns the configuration for m normalized with norm: the
// geometry and class names of CIFARConfig for the CIFAR models, of
// ImageNetConfig for the others, and norm's mean and std (per-channel) or
// mean image (per-pixel-mean, 3x32x32: CIFAR models only). Take norm from
// weights.InputNormalization, or from the caller's explicit choice when
// the weights do not record it. Class names are dropped when their count
// differs from the model's number of classes.
func ConfigFor(m *models.Model, norm cifar10.Stats) (Config, error) {
	if err := norm.Validate(); err != nil {
		return Config{}, errors.WithMessage(err, "predict")
	}
	cfg := ImageNetConfig()
	if m.CIFAR() {
		cfg = CIFARConfig()
	}
	if norm.Normalization == cifar10.PerPixelMean {
		if !m.CIFAR() {
			return Config{}, errors.Errorf("predict: per-pixel-mean normalization subtracts a 32x32 mean image; %s takes %dx%d images", m.Name(), cfg.Crop, cfg.Crop)
		}
		cfg.Mean, cfg.Std = [3]float64{}, [3]float64{1, 1, 1}
		cfg.PixelMean = make([]float64, len(norm.Mean))
		for i, v := range norm.Mean {
			cfg.PixelMean[i] = float64(v)
		}
	} else {
		for c := range cfg.Mean {
			cfg.Mean[c], cfg.Std[c] = float64(norm.Mean[c]), float64(norm.Std[c])
		}
	}
	if len(cfg.Classes) != m.Options().NumClasses {
		cfg.Classes = nil
	}
	return cfg, nil
}

// rgb8 is an image as H x W x 3 bytes.
type rgb8 struct {
	w, h int
	pix  []uint8
}

// toRGB converts any image to RGB bytes, dropping alpha without
// premultiplying (as PIL's convert("RGB") does).
func toRGB(img image.Image) rgb8 {
	b := img.Bounds()
	out := rgb8{w: b.Dx(), h: b.Dy(), pix: make([]uint8, 3*b.Dx()*b.Dy())}
	i := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			out.pix[i], out.pix[i+1], out.pix[i+2] = c.R, c.G, c.B
			i += 3
		}
	}
	return out
}

// resizedSize is torchvision's output size for Resize(short): the shorter
// side becomes short and the longer int(short * long / shorter).
func resizedSize(w, h, short int) (int, int) {
	if w <= h {
		return short, int(float64(short) * float64(h) / float64(w))
	}
	return int(float64(short) * float64(w) / float64(h)), short
}

// linearTaps are the source indices and weights of one output coordinate
// of PyTorch's bilinear interpolation with align_corners=False.
type linearTaps struct {
	i0, i1 int
	w0, w1 float32
}

func taps(in, out int) []linearTaps {
	scale := float32(in) / float32(out)
	t := make([]linearTaps, out)
	for d := range t {
		src := scale*(float32(d)+0.5) - 0.5
		if src < 0 {
			src = 0
		}
		i0 := int(src)
		i1 := i0
		if i0 < in-1 {
			i1 = i0 + 1
		}
		l1 := src - float32(i0)
		t[d] = linearTaps{i0, i1, 1 - l1, l1}
	}
	return t
}

// resize is torchvision's F.resize on a uint8 tensor with antialias=False:
// bilinear interpolation in float32, rounded half to even.
func resize(src rgb8, ow, oh int) rgb8 {
	if ow == src.w && oh == src.h {
		return src
	}
	out := rgb8{w: ow, h: oh, pix: make([]uint8, 3*ow*oh)}
	ty, tx := taps(src.h, oh), taps(src.w, ow)
	at := func(y, x, c int) float32 { return float32(src.pix[(y*src.w+x)*3+c]) }
	for y, a := range ty {
		for x, b := range tx {
			for c := 0; c < 3; c++ {
				v := a.w0*(b.w0*at(a.i0, b.i0, c)+b.w1*at(a.i0, b.i1, c)) +
					a.w1*(b.w0*at(a.i1, b.i0, c)+b.w1*at(a.i1, b.i1, c))
				out.pix[(y*ow+x)*3+c] = uint8(math.Max(0, math.Min(255, math.RoundToEven(float64(v)))))
			}
		}
	}
	return out
}

// cropOffset is where torchvision's center_crop starts along a side of n
// pixels for a crop of k: round((n-k)/2) (half to even), or, when the image
// is smaller, minus the left/top zero padding (k-n)/2.
func cropOffset(n, k int) int {
	if n < k {
		return -((k - n) / 2)
	}
	return int(math.RoundToEven(float64(n-k) / 2))
}

// outputSize is the width and height of the input cfg makes of a w x h
// image: resized, then cropped.
func (cfg Config) outputSize(w, h int) (int, int) {
	if cfg.Resize > 0 {
		w, h = resizedSize(w, h, cfg.Resize)
	}
	if cfg.Crop > 0 {
		w, h = cfg.Crop, cfg.Crop
	}
	return w, h
}

// Preprocess returns img as the model input cfg describes: a CHW float32
// slice of 3 x H x W values, (pixel/255 - Mean[c]) / Std[c], or with
// PixelMean[c,y,x] in place of Mean[c] when set. It fails, before
// converting any pixel, when the image or its resized form has more than
// cfg's pixel limit (MaxPixels), when cfg.Size is set and the image (after
// Resize and Crop) has another size, or when it has another size than
// PixelMean.
func Preprocess(img image.Image, cfg Config) ([]float32, error) {
	b := img.Bounds()
	if err := checkPixels("image of", b.Dx(), b.Dy(), cfg.maxPixels()); err != nil {
		return nil, err
	}
	rw, rh := b.Dx(), b.Dy()
	if cfg.Resize > 0 {
		rw, rh = resizedSize(rw, rh, cfg.Resize)
		what := fmt.Sprintf("image of %dx%d pixels resized to a shorter side of %d:", b.Dx(), b.Dy(), cfg.Resize)
		if err := checkPixels(what, rw, rh, cfg.maxPixels()); err != nil {
			return nil, err
		}
	}
	w, h := cfg.outputSize(b.Dx(), b.Dy())
	if cfg.Size > 0 && (w != cfg.Size || h != cfg.Size) {
		return nil, errors.Errorf("image is %dx%d, the model takes %dx%d images", w, h, cfg.Size, cfg.Size)
	}
	if cfg.PixelMean != nil && len(cfg.PixelMean) != 3*w*h {
		return nil, errors.Errorf("image is %dx%d, the mean image has %d values, want 3x%dx%d", w, h, len(cfg.PixelMean), w, h)
	}
	px := toRGB(img)
	if cfg.Resize > 0 {
		px = resize(px, rw, rh)
	}
	offX, offY := 0, 0
	if cfg.Crop > 0 {
		offX, offY = cropOffset(px.w, w), cropOffset(px.h, h)
	}
	out := make([]float32, 3*w*h)
	for c := 0; c < 3; c++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				var v float64
				if sy, sx := y+offY, x+offX; sy >= 0 && sy < px.h && sx >= 0 && sx < px.w {
					v = float64(px.pix[(sy*px.w+sx)*3+c]) / 255
				}
				i := (c*h+y)*w + x
				mean := cfg.Mean[c]
				if cfg.PixelMean != nil {
					mean = cfg.PixelMean[i]
				}
				out[i] = float32((v - mean) / cfg.Std[c])
			}
		}
	}
	return out, nil
}

// maxHeaderBytes is how far into a file LoadImage looks for the image's
// size: a JPEG's frame header or a PNG's IHDR chunk and the chunks up to
// IDAT can follow EXIF, XMP and ICC profile segments of a few megabytes.
const maxHeaderBytes = 16 << 20

// maxFileBytes is the largest file LoadImage reads for images of up to
// maxPixels pixels: 8 bytes a pixel (a 16-bit RGBA PNG stored without
// compression) and 16 MiB of metadata.
func maxFileBytes(maxPixels int) int64 { return 8*int64(maxPixels) + 16<<20 }

// LoadImage decodes the PNG or JPEG file at path, an image of at most
// maxPixels pixels (width x height; zero or less means DefaultMaxPixels).
// It reads the format and size from the file's header first and refuses,
// without decoding, a file of another format, an image over the limit, or a
// file larger than 8 bytes a pixel plus 16 MiB. Errors name the file.
func LoadImage(path string, maxPixels int) (image.Image, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, errors.Wrap(err, "predict")
	}
	defer f.Close()
	limit := maxFileBytes(maxPixels)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > limit {
		return nil, errors.Errorf("predict: %s: %d bytes, more than the %d an image of up to %d pixels may take", path, st.Size(), limit, maxPixels)
	}
	return decode(io.LimitReader(f, limit), path, maxPixels)
}

// decode decodes a PNG or JPEG image of at most maxPixels pixels from r,
// after reading its format and size from at most maxHeaderBytes of r. Errors
// name the image name.
func decode(r io.Reader, name string, maxPixels int) (image.Image, error) {
	// The header's bytes are kept to be decoded again with the rest.
	var head bytes.Buffer
	c, format, err := image.DecodeConfig(io.TeeReader(io.LimitReader(r, maxHeaderBytes), &head))
	if err != nil {
		if head.Len() >= maxHeaderBytes {
			err = errors.Errorf("no image size in the first %d bytes", maxHeaderBytes)
		}
		return nil, errors.Errorf("predict: %s: not a readable PNG or JPEG image: %v", name, err)
	}
	if format != "png" && format != "jpeg" {
		return nil, errors.Errorf("predict: %s: a %s image, want PNG or JPEG", name, format)
	}
	if err := checkPixels(fmt.Sprintf("predict: %s: the %s header claims", name, strings.ToUpper(format)), c.Width, c.Height, maxPixels); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(io.MultiReader(&head, r))
	if err != nil {
		return nil, errors.Errorf("predict: %s: not a readable PNG or JPEG image: %v", name, err)
	}
	return img, nil
}

// Class is one prediction: the class index, its name and its softmax
// probability.
type Class struct {
	Class int     `json:"class"`
	Name  string  `json:"name"`
	Prob  float64 `json:"prob"`
}

// Result is the five most probable classes of one image, most probable
// first. As JSON: {"image": path, "top5": [{"class": 207, "name": "golden
// retriever", "prob": 0.91}, ...]}.
type Result struct {
	Image string  `json:"image"`
	Top5  []Class `json:"top5"`
}

// batchSize is how many images Top5 runs through the model at once.
const batchSize = 8

// Top5 classifies the image files with m, a float32 model, in evaluation
// mode and returns one Result per image, in order, with min(5, classes)
// classes each. It runs batches of up to eight images of one size on
// models.Inference graphs (no gradients); m's train/eval mode is restored
// afterwards. Errors name the file (unreadable, not an image, too large,
// wrong size).
func Top5(m *models.Model, images []string, cfg Config) ([]Result, error) {
	type input struct {
		path string
		data []float32
		h, w int
	}
	inputs := make([]input, len(images))
	for i, path := range images {
		img, err := LoadImage(path, cfg.maxPixels())
		if err != nil {
			return nil, err
		}
		data, err := Preprocess(img, cfg)
		if err != nil {
			return nil, errors.WithMessagef(err, "predict: %s", path)
		}
		w, h := cfg.outputSize(img.Bounds().Dx(), img.Bounds().Dy())
		inputs[i] = input{path, data, h, w}
	}
	// One graph per batch size and image size, kept for the batches after.
	graphs := map[[3]int]*models.Inference{}
	defer func() {
		for _, inf := range graphs {
			inf.Close()
		}
	}()
	results := make([]Result, 0, len(images))
	for start := 0; start < len(inputs); {
		// A batch is up to batchSize consecutive images of one size.
		end := start + 1
		for end < len(inputs) && end-start < batchSize && inputs[end].h == inputs[start].h && inputs[end].w == inputs[start].w {
			end++
		}
		n, h, w := end-start, inputs[start].h, inputs[start].w
		inf := graphs[[3]int{n, h, w}]
		if inf == nil {
			var err error
			if inf, err = models.NewInference(m, n, 3, h, w); err != nil {
				return nil, errors.WithMessage(err, "predict")
			}
			graphs[[3]int{n, h, w}] = inf
		}
		for i := start; i < end; i++ {
			copy(inf.Input()[(i-start)*3*h*w:], inputs[i].data)
		}
		logits, err := inf.Run()
		if err != nil {
			return nil, errors.WithMessagef(err, "predict: %s", inputs[start].path)
		}
		k := inf.Classes()
		for i := 0; i < n; i++ {
			results = append(results, Result{Image: inputs[start+i].path, Top5: top(logits[i*k:(i+1)*k], 5, cfg.Classes)})
		}
		start = end
	}
	return results, nil
}

// top returns the k most probable classes of one row of logits.
func top(logits []float32, k int, names []string) []Class {
	maxV := math.Inf(-1)
	for _, v := range logits {
		maxV = math.Max(maxV, float64(v))
	}
	var sum float64
	probs := make([]float64, len(logits))
	for i, v := range logits {
		probs[i] = math.Exp(float64(v) - maxV)
		sum += probs[i]
	}
	idx := make([]int, len(logits))
	for i := range idx {
		idx[i] = i
		probs[i] /= sum
	}
	sort.SliceStable(idx, func(a, b int) bool { return probs[idx[a]] > probs[idx[b]] })
	k = min(k, len(idx))
	out := make([]Class, k)
	for i, c := range idx[:k] {
		out[i] = Class{Class: c, Prob: probs[c]}
		if c < len(names) {
			out[i].Name = names[c]
		}
	}
	return out
}

// String formats a result as "path: name (p), ...".
func (r Result) String() string {
	parts := make([]string, len(r.Top5))
	for i, c := range r.Top5 {
		name := c.Name
		if name == "" {
			name = fmt.Sprintf("class %d", c.Class)
		}
		parts[i] = fmt.Sprintf("%s %.3f", name, c.Prob)
	}
	return r.Image + ": " + strings.Join(parts, ", ")
}
