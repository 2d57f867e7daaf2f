package weights

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gorgonia-zoo/resnet/datasets/cifar10"
	"github.com/gorgonia-zoo/resnet/models"
)

// meanImage is a 3x32x32 mean image with distinct values.
func meanImage() []float32 {
	v := make([]float32, cifar10.ImageLen)
	for i := range v {
		v[i] = float32(i%101) / 211
	}
	return v
}

// TestInputNormalization: the metadata training writes (train/trainer.go's
// weightsMetadata, both normalizations), NormalizationMetadata writes, and
// the README's conversion recipe writes all give their statistics.
func TestInputNormalization(t *testing.T) {
	pixel := meanImage()
	perPixel := cifar10.Stats{Normalization: cifar10.PerPixelMean, Mean: pixel}
	perChannel := cifar10.Stats{Normalization: cifar10.PerChannel, Mean: []float32{0.49139968, 0.48215827, 0.44653124}, Std: []float32{0.24703233, 0.24348505, 0.26158768}}
	imagenet := cifar10.Stats{Normalization: cifar10.PerChannel, Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}}
	for _, c := range []struct {
		name string
		md   map[string]string
		want cifar10.Stats
	}{
		{"training, per-pixel-mean", map[string]string{
			KeyNormalization: "per-pixel-mean", KeyNormalizeMean: "0.47,0.46,0.45", KeyNormalizeStd: "1,1,1",
			KeyNormalizePixelMean: FormatFloats(pixel),
		}, perPixel},
		{"training, per-channel", map[string]string{
			KeyNormalization: "per-channel",
			KeyNormalizeMean: "0.4913996756076813,0.48215827345848083,0.44653123617172241",
			KeyNormalizeStd:  "0.24703232944011688,0.24348504841327667,0.26158767938613892",
		}, perChannel},
		{"README recipe (torchvision ImageNet)", map[string]string{
			KeyFormat: "pt", KeyModel: "resnet50", KeyNumClasses: "1000", KeyNormalization: "per-channel",
			KeyNormalizeMean: "0.485,0.456,0.406", KeyNormalizeStd: "0.229,0.224,0.225",
		}, imagenet},
		{"mean and std only", map[string]string{KeyNormalizeMean: "0.485, 0.456, 0.406", KeyNormalizeStd: "0.229,0.224,0.225"}, imagenet},
		{"mean image only", map[string]string{KeyNormalizePixelMean: FormatFloats(pixel)}, perPixel},
	} {
		got, err := InputNormalization("w.safetensors", c.md)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v, %v", c.name, got.Normalization, err)
		}
	}
	// NormalizationMetadata writes what training writes, and it reads back
	// through a file.
	m, err := models.New("resnet20", models.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "r20.safetensors")
	for _, st := range []cifar10.Stats{perPixel, perChannel} {
		md, err := NormalizationMetadata(st)
		if err != nil {
			t.Fatal(err)
		}
		if st.Normalization == cifar10.PerPixelMean && (md[KeyNormalizeStd] != "1,1,1" || md[KeyNormalization] != "per-pixel-mean" || len(strings.Split(md[KeyNormalizeMean], ",")) != 3) {
			t.Errorf("per-pixel-mean metadata %s %s %s", md[KeyNormalization], md[KeyNormalizeMean], md[KeyNormalizeStd])
		}
		if err := Save(path, m, md); err != nil {
			t.Fatal(err)
		}
		_, r, err := LoadModel(path, models.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := InputNormalization(path, r.Metadata); err != nil || !reflect.DeepEqual(got, st) {
			t.Errorf("%s through a file: %v, %v", st.Normalization, got.Normalization, err)
		}
	}
	if _, err := NormalizationMetadata(cifar10.Stats{Normalization: cifar10.PerChannel}); err == nil {
		t.Error("NormalizationMetadata of empty per-channel statistics: no error")
	}
}

// TestInputNormalizationMissing: metadata without the normalization, or
// without a value the one it names needs, is an error wrapping
// ErrNoNormalization that names the file and the keys, never a default.
// Such files used to be normalized with CIFAR-10's per-channel statistics.
func TestInputNormalizationMissing(t *testing.T) {
	for _, c := range []struct {
		name string
		md   map[string]string
		want string
	}{
		{"none (the README's old recipe)", map[string]string{KeyFormat: "pt", KeyModel: "resnet50", KeyNumClasses: "1000"}, "weights: r.safetensors: no input normalization in the metadata"},
		{"nil", nil, "weights: r.safetensors: no input normalization in the metadata"},
		{"mean without std", map[string]string{KeyNormalizeMean: "0.5,0.5,0.5"}, "weights: r.safetensors: no input normalization"},
		{"per-channel without std", map[string]string{KeyNormalization: "per-channel", KeyNormalizeMean: "0.5,0.5,0.5"}, "weights: r.safetensors: per-channel normalization without normalize_std"},
		{"per-pixel-mean without the image", map[string]string{KeyNormalization: "per-pixel-mean", KeyNormalizeMean: "0.5,0.5,0.5", KeyNormalizeStd: "1,1,1"}, "weights: r.safetensors: per-pixel-mean normalization without normalize_pixel_mean"},
	} {
		_, err := InputNormalization("r.safetensors", c.md)
		if !errors.Is(err, ErrNoNormalization) || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrNoNormalization starting %q", c.name, err, c.want)
			continue
		}
		for _, key := range []string{KeyNormalization, KeyNormalizePixelMean, KeyNormalizeMean, KeyNormalizeStd} {
			if !strings.Contains(err.Error(), `"`+key+`"`) {
				t.Errorf("%s: %v does not name %s", c.name, err, key)
			}
		}
	}
}

// TestInputNormalizationBad: values that are there but wrong are errors
// naming the key, not ErrNoNormalization.
func TestInputNormalizationBad(t *testing.T) {
	pixel := FormatFloats(meanImage())
	for _, c := range []struct {
		name string
		md   map[string]string
		want string
	}{
		{"unknown kind", map[string]string{KeyNormalization: "zca", KeyNormalizeMean: "0,0,0", KeyNormalizeStd: "1,1,1"}, `metadata normalization: cifar10: unknown normalization "zca"`},
		{"two stds", map[string]string{KeyNormalization: "per-channel", KeyNormalizeMean: "0,0,0", KeyNormalizeStd: "1,2"}, `metadata normalize_std "1,2": 2 values, want 3 (R,G,B)`},
		{"not a number", map[string]string{KeyNormalizeMean: "0,x,0", KeyNormalizeStd: "1,1,1"}, `metadata normalize_mean "0,x,0": bad float list`},
		{"zero std", map[string]string{KeyNormalizeMean: "0,0,0", KeyNormalizeStd: "1,0,1"}, "metadata: cifar10: channel 1 has mean 0 and std 0"},
		{"NaN mean", map[string]string{KeyNormalizeMean: "0,NaN,0", KeyNormalizeStd: "1,1,1"}, "channel 1 has mean NaN"},
		{"small mean image", map[string]string{KeyNormalizePixelMean: "0.5,0.5,0.5"}, "metadata normalize_pixel_mean \"0.5,0.5,0.5\": 3 values, want 3072 (a 3x32x32 mean image)"},
		{"per-pixel-mean with a std", map[string]string{KeyNormalization: "per-pixel-mean", KeyNormalizePixelMean: pixel, KeyNormalizeStd: "0.2,0.2,0.2"}, "normalize_std is 0.2,0.2,0.2, but per-pixel-mean normalization divides by no std"},
	} {
		_, err := InputNormalization("r.safetensors", c.md)
		if err == nil || errors.Is(err, ErrNoNormalization) || !strings.HasPrefix(err.Error(), "weights: r.safetensors: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
}
