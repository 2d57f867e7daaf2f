package predict

import (
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gorgonia-zoo/resnet/datasets/cifar10"
	"github.com/gorgonia-zoo/resnet/models"
	"github.com/gorgonia-zoo/resnet/safetensors"
	"github.com/gorgonia-zoo/resnet/weights"
	"gorgonia.org/tensor"
)

// pattern is a w x h image with smooth colors.
func pattern(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.NRGBA{uint8(x * 7), uint8(y * 5), uint8((x + y) * 3), 255})
		}
	}
	return img
}

func writeImage(t *testing.T, dir, name string, img image.Image) string {
	t.Helper()
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if strings.HasSuffix(name, ".png") {
		err = png.Encode(f, img)
	} else {
		err = jpeg.Encode(f, img, &jpeg.Options{Quality: 95})
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func TestClassNames(t *testing.T) {
	names := ImageNetClasses()
	if len(names) != 1000 || names[0] != "tench" || names[207] != "golden retriever" || names[999] != "toilet tissue" {
		t.Errorf("ImageNet names: %d, %q %q %q", len(names), names[0], names[207], names[999])
	}
	// CIFAR's are cifar10.ClassNames, copied: a caller may change them.
	cfg := CIFARConfig()
	if !slices.Equal(cfg.Classes, cifar10.ClassNames[:]) {
		t.Errorf("CIFAR names %v", cfg.Classes)
	}
	cfg.Classes[3] = "kitten"
	if cifar10.ClassNames[3] != "cat" || CIFARConfig().Classes[3] != "cat" {
		t.Error("changing a Config's class names changed cifar10.ClassNames")
	}
}

// TestPreprocessMatchesTorchvision compares with torchvision's tensor
// pipeline (Resize(20, bilinear, antialias=False), CenterCrop(16), ToTensor,
// Normalize) on a fixture from scripts/parity/make_fixtures.py.
func TestPreprocessMatchesTorchvision(t *testing.T) {
	img, err := LoadImage("../testdata/parity/preprocess.png", 0)
	if err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.ReadFile("../testdata/parity/preprocess.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	// The resize alone, in uint8: equal up to float rounding at .5.
	rt, _ := f.Get("resized_u8")
	want, _ := rt.Int64s()
	px := toRGB(img)
	w, h := resizedSize(px.w, px.h, 20)
	if h != rt.Shape[1] || w != rt.Shape[2] {
		t.Fatalf("resized to %dx%d, torchvision to %dx%d", w, h, rt.Shape[2], rt.Shape[1])
	}
	got := resize(px, w, h)
	off := 0
	for c := 0; c < 3; c++ {
		for i := 0; i < h*w; i++ {
			d := int64(got.pix[i*3+c]) - want[c*h*w+i]
			if d != 0 {
				off++
			}
			if d > 1 || d < -1 {
				t.Fatalf("channel %d pixel %d: %d, torchvision %d", c, i, got.pix[i*3+c], want[c*h*w+i])
			}
		}
	}
	t.Logf("resize: %d of %d values off by one", off, 3*h*w)
	if off > 3*h*w/50 {
		t.Errorf("%d values off by one", off)
	}
	cfg := ImageNetConfig()
	cfg.Resize, cfg.Crop = 20, 16
	out, err := Preprocess(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	et, _ := f.Get("expected")
	exp, _ := et.Float32s()
	var worst float64
	for i := range exp {
		worst = math.Max(worst, math.Abs(float64(out[i]-exp[i])))
	}
	t.Logf("preprocess: max abs diff %.3g", worst)
	if worst > 1.01/255/0.224 {
		t.Errorf("preprocessed values differ from torchvision's by %g", worst)
	}
}

func TestPreprocessGeometry(t *testing.T) {
	// 300x200 -> 384x256 -> 224x224.
	out, err := Preprocess(pattern(300, 200), ImageNetConfig())
	if err != nil || len(out) != 3*224*224 {
		t.Fatalf("%d values, %v", len(out), err)
	}
	if w, h := resizedSize(300, 200, 256); w != 384 || h != 256 {
		t.Errorf("resizedSize %dx%d", w, h)
	}
	if w, h := resizedSize(100, 333, 256); w != 256 || h != 852 {
		t.Errorf("resizedSize %dx%d", w, h)
	}
	// A crop larger than the image pads with black, normalized.
	cfg := Config{Crop: 4, Mean: [3]float64{0.5, 0.5, 0.5}, Std: [3]float64{0.5, 0.5, 0.5}}
	white := image.NewGray(image.Rect(0, 0, 2, 2))
	for i := range white.Pix {
		white.Pix[i] = 255
	}
	out, err = Preprocess(white, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Rows: pad, image, image, pad; columns likewise.
	row1 := out[4:8]
	if out[0] != -1 || row1[0] != -1 || row1[1] != 1 || row1[2] != 1 || row1[3] != -1 {
		t.Errorf("padded crop %v", out[:16])
	}
	// CIFAR: exactly 32x32.
	if _, err := Preprocess(pattern(33, 32), CIFARConfig()); err == nil || !strings.Contains(err.Error(), "33x32") {
		t.Errorf("a 33x32 image: %v", err)
	}
}

// TestPixelMean: a per-pixel-mean normalization's mean image is
// subtracted pixel by pixel; one of the wrong size, or for an ImageNet
// model, is refused.
func TestPixelMean(t *testing.T) {
	m, err := models.New("resnet20", models.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	mean := make([]float32, 3*32*32)
	for i := range mean {
		mean[i] = float32(i%97) / 200
	}
	cfg, err := ConfigFor(m, cifar10.Stats{Normalization: cifar10.PerPixelMean, Mean: mean})
	if err != nil {
		t.Fatal(err)
	}
	img := pattern(32, 32)
	got, err := Preprocess(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for c := 0; c < 3; c++ {
		for y := 0; y < 32; y++ {
			for x := 0; x < 32; x++ {
				r, g, b, _ := img.At(x, y).RGBA()
				v := float64([]uint32{r, g, b}[c]>>8) / 255
				i := (c*32+y)*32 + x
				if want := float32(v - float64(mean[i])); math.Abs(float64(got[i]-want)) > 1e-6 {
					t.Fatalf("input[%d,%d,%d] = %v, want %v", c, y, x, got[i], want)
				}
			}
		}
	}
	_, err = ConfigFor(m, cifar10.Stats{Normalization: cifar10.PerPixelMean, Mean: mean[:3*16*16]})
	if err == nil || !strings.Contains(err.Error(), "need 3072 means and no std, got 768") {
		t.Errorf("a 16x16 mean image: %v", err)
	}
	r18, err := models.New("resnet18", models.Options{NumClasses: 2})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ConfigFor(r18, cifar10.Stats{Normalization: cifar10.PerPixelMean, Mean: mean})
	if err == nil || !strings.Contains(err.Error(), "resnet18 takes 224x224 images") {
		t.Errorf("a mean image for resnet18: %v", err)
	}
	cfg.PixelMean = cfg.PixelMean[:3*16*16]
	if _, err := Preprocess(img, cfg); err == nil || !strings.Contains(err.Error(), "mean image") {
		t.Errorf("Preprocess with a 16x16 mean image: %v", err)
	}
}

// TestSameNormalizationAsEval: the statistics a weights file records (as
// weights.InputNormalization reads them) make Preprocess's input equal to
// what evaluation feeds the model for the same 32x32 image
// (cifar10.Stats.Normalize), for both normalizations.
func TestSameNormalizationAsEval(t *testing.T) {
	m, err := models.New("resnet20", models.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	pixel := make([]float32, cifar10.ImageLen)
	for i := range pixel {
		pixel[i] = float32(i%89) / 150
	}
	img := pattern(32, 32)
	raw := make([]byte, cifar10.ImageLen) // CHW, as the dataset stores it
	for y := 0; y < 32; y++ {
		for x := 0; x < 32; x++ {
			c := img.NRGBAAt(x, y)
			for ch, v := range []uint8{c.R, c.G, c.B} {
				raw[ch*cifar10.PlaneLen+y*32+x] = v
			}
		}
	}
	path := filepath.Join(t.TempDir(), "w.safetensors")
	for _, st := range []cifar10.Stats{
		{Normalization: cifar10.PerPixelMean, Mean: pixel},
		{Normalization: cifar10.PerChannel, Mean: []float32{0.49, 0.48, 0.45}, Std: []float32{0.247, 0.243, 0.261}},
	} {
		md, err := weights.NormalizationMetadata(st)
		if err != nil {
			t.Fatal(err)
		}
		if err := weights.Save(path, m, md); err != nil {
			t.Fatal(err)
		}
		if md, err = weights.ReadMetadata(path); err != nil {
			t.Fatal(err)
		}
		norm, err := weights.InputNormalization(path, md)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := ConfigFor(m, norm)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Preprocess(img, cfg)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float32, cifar10.ImageLen)
		if err := norm.Normalize(want, raw); err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 2e-6 {
				t.Fatalf("%s: input %d is %v, evaluation's %v", st.Normalization, i, got[i], want[i])
			}
		}
	}
}

// TestImageNetStats: the explicit ImageNet choice is ImageNetConfig's
// normalization.
func TestImageNetStats(t *testing.T) {
	m, err := models.New("resnet18", models.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ConfigFor(m, ImageNetStats())
	if err != nil {
		t.Fatal(err)
	}
	ref := ImageNetConfig()
	for c := range cfg.Mean {
		if math.Abs(cfg.Mean[c]-ref.Mean[c]) > 1e-7 || math.Abs(cfg.Std[c]-ref.Std[c]) > 1e-7 {
			t.Errorf("channel %d: mean %v std %v, ImageNetConfig %v %v", c, cfg.Mean[c], cfg.Std[c], ref.Mean[c], ref.Std[c])
		}
	}
	if cfg.Resize != 256 || cfg.Crop != 224 || len(cfg.Classes) != 1000 || cfg.PixelMean != nil {
		t.Errorf("config %+v", cfg)
	}
}

func TestTop5CIFAR(t *testing.T) {
	dir := t.TempDir()
	m, err := models.New("resnet20", models.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	wpath := filepath.Join(dir, "r20.safetensors")
	if err := weights.Save(wpath, m, map[string]string{weights.KeyNormalizeMean: "0.5,0.5,0.5", weights.KeyNormalizeStd: "0.25,0.25,0.25"}); err != nil {
		t.Fatal(err)
	}
	md, err := weights.ReadMetadata(wpath)
	if err != nil {
		t.Fatal(err)
	}
	norm, err := weights.InputNormalization(wpath, md)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ConfigFor(m, norm)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Mean != [3]float64{0.5, 0.5, 0.5} || cfg.Std != [3]float64{0.25, 0.25, 0.25} || cfg.Size != 32 || len(cfg.Classes) != 10 {
		t.Errorf("config %+v", cfg)
	}
	if _, err := ConfigFor(m, cifar10.Stats{Normalization: cifar10.PerChannel, Mean: []float32{0, 0, 0}, Std: []float32{1, 2}}); err == nil {
		t.Error("a 2-value std was accepted")
	}
	imgs := []string{
		writeImage(t, dir, "a.png", pattern(32, 32)),
		writeImage(t, dir, "b.jpg", pattern(32, 32)),
	}
	training := m.Training()
	res, err := Top5(m, imgs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if m.Training() != training {
		t.Error("Top5 did not restore the model's mode")
	}
	if len(res) != 2 {
		t.Fatalf("%d results", len(res))
	}
	for i, r := range res {
		if r.Image != imgs[i] || len(r.Top5) != 5 {
			t.Fatalf("result %d: %+v", i, r)
		}
		var sum float64
		for j, c := range r.Top5 {
			sum += c.Prob
			if c.Name != cifar10.ClassNames[c.Class] || (j > 0 && c.Prob > r.Top5[j-1].Prob) {
				t.Errorf("result %d: %+v", i, r.Top5)
			}
		}
		if sum <= 0 || sum > 1+1e-9 {
			t.Errorf("probabilities sum to %v", sum)
		}
	}
	// The same image alone gives the same answer as in a batch (eval mode).
	alone, err := Top5(m, imgs[:1], cfg)
	if err != nil {
		t.Fatal(err)
	}
	if alone[0].Top5[0] != res[0].Top5[0] && math.Abs(alone[0].Top5[0].Prob-res[0].Top5[0].Prob) > 1e-6 {
		t.Errorf("alone %+v, batched %+v", alone[0].Top5[0], res[0].Top5[0])
	}
	b, err := json.Marshal(res[0])
	if err != nil || !strings.HasPrefix(string(b), `{"image":"`) || !strings.Contains(string(b), `"top5":[{"class":`) || !strings.Contains(string(b), `"name":"`) || !strings.Contains(string(b), `"prob":`) {
		t.Errorf("JSON %s", b)
	}

	// Errors name the file.
	text := filepath.Join(dir, "notes.png")
	os.WriteFile(text, []byte("not an image"), 0o644)
	huge := filepath.Join(dir, "huge.png")
	os.WriteFile(huge, pngClaiming(t, 200000, 200000, 16), 0o644)
	for _, bad := range []string{
		writeImage(t, dir, "big.png", pattern(64, 48)),
		text,
		huge,
		filepath.Join(dir, "absent.jpg"),
	} {
		_, err := Top5(m, []string{imgs[0], bad}, cfg)
		if err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestTop5ImageNet(t *testing.T) {
	if testing.Short() {
		t.Skip("a resnet18 forward pass at 224x224")
	}
	m, err := models.New("resnet18", models.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ConfigFor(m, ImageNetStats())
	if err != nil {
		t.Fatal(err)
	}
	path := writeImage(t, t.TempDir(), "wide.jpg", pattern(300, 200))
	res, err := Top5(m, []string{path}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res[0].Top5) != 5 || res[0].Top5[0].Name != ImageNetClasses()[res[0].Top5[0].Class] {
		t.Errorf("%v", res[0])
	}
}

// TestTop5IsInference: Top5's probabilities, with the image in a batch of
// two, are the softmax of models.Inference's logits for it alone, and a
// float64 model, which Inference does not run, is refused naming float32.
func TestTop5IsInference(t *testing.T) {
	m, err := models.New("resnet20", models.Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	cfg := CIFARConfig()
	dir := t.TempDir()
	imgs := []string{writeImage(t, dir, "a.png", pattern(32, 32)), writeImage(t, dir, "b.png", pattern(32, 32))}
	res, err := Top5(m, imgs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	inf, err := models.NewInference(m, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer inf.Close()
	img, err := LoadImage(imgs[0], 0)
	if err != nil {
		t.Fatal(err)
	}
	x, err := Preprocess(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	copy(inf.Input(), x)
	logits, err := inf.Run()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res[0].Top5 {
		var sum float64
		for _, v := range logits {
			sum += math.Exp(float64(v) - float64(logits[c.Class]))
		}
		if want := 1 / sum; math.Abs(c.Prob-want) > 1e-12 {
			t.Errorf("class %d: probability %v, Inference's logits give %v", c.Class, c.Prob, want)
		}
	}
	m64, err := models.New("resnet20", models.Options{Seed: 3, Dtype: tensor.Float64})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Top5(m64, imgs[:1], cfg); err == nil || !strings.Contains(err.Error(), "float32") {
		t.Errorf("a float64 model: %v", err)
	}
}
