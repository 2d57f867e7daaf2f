package predict

import (
	"bytes"
	"image"
	"image/color"
	"testing"
)

// fuzzMaxPixels is FuzzLoadImage's pixel limit, small so that each input
// decodes fast.
const fuzzMaxPixels = 1 << 12

// FuzzLoadImage feeds arbitrary bytes to what LoadImage does with a file's
// contents. It must never panic, never return an image over the limit, and
// never allocate more than the image the header claims needs when it is
// within the limit (24 bytes a pixel, JPEG's blocks padded to 32x32), or
// next to nothing when it is not, plus the decoders' tables and buffers and
// the header it keeps (about twice the input).
func FuzzLoadImage(f *testing.F) {
	gray := image.NewGray16(image.Rect(0, 0, 5, 3))
	gray.SetGray16(1, 1, color.Gray16{Y: 40000})
	paletted := image.NewPaletted(image.Rect(0, 0, 4, 4), color.Palette{color.Black, color.White})
	paletted.Pix[5] = 1
	for _, seed := range [][]byte{
		encoded(f, pattern(7, 5), "png"),
		encoded(f, gray, "png"),
		encoded(f, paletted, "png"),
		encoded(f, pattern(9, 17), "jpeg"),
		encoded(f, image.NewGray(image.Rect(0, 0, 8, 8)), "jpeg"),
		pngClaiming(f, 200000, 200000, 16),
		pngClaiming(f, 64, 64, 100),
		pngClaiming(f, 1, 4096, 16),
		jpegClaiming(65535, 65535),
		jpegClaiming(64, 64),
		[]byte("\x89PNG\r\n\x1a\n"),
		nil,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		bound := 1<<20 + 2*uint64(len(data))
		if c, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil && c.Width > 0 && c.Height > 0 &&
			int64(c.Width)*int64(c.Height) <= fuzzMaxPixels {
			bound += 24 * uint64(c.Width+31) * uint64(c.Height+31)
		}
		var img image.Image
		var err error
		n := allocated(func() { img, err = decode(bytes.NewReader(data), "fuzz", fuzzMaxPixels) })
		if n > bound {
			t.Errorf("decoding %d bytes allocated %d bytes, more than %d", len(data), n, bound)
		}
		if err != nil {
			return
		}
		if b := img.Bounds(); b.Empty() || int64(b.Dx())*int64(b.Dy()) > fuzzMaxPixels {
			t.Errorf("decoded a %dx%d image, limit %d pixels", b.Dx(), b.Dy(), fuzzMaxPixels)
		}
	})
}
