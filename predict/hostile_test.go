package predict

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// allocated returns the bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// pngChunk appends a PNG chunk: length, type, data, CRC of type and data.
func pngChunk(b []byte, typ string, data []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	start := len(b)
	b = append(append(b, typ...), data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
}

// pngClaiming returns a well-formed PNG whose IHDR claims a w x h 8-bit
// RGB image and whose IDAT holds a zlib stream of n zero bytes, stored
// without compression (about n bytes): far too little for the claim.
func pngClaiming(t testing.TB, w, h uint32, n int) []byte {
	t.Helper()
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0) // depth 8, RGB, deflate, no filter, no interlace
	var idat bytes.Buffer
	zw, err := zlib.NewWriterLevel(&idat, zlib.NoCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	b := []byte("\x89PNG\r\n\x1a\n")
	b = pngChunk(b, "IHDR", ihdr)
	b = pngChunk(b, "IDAT", idat.Bytes())
	return pngChunk(b, "IEND", nil)
}

// jpegClaiming returns the start of a baseline JPEG whose frame header
// claims a w x h three-component image, followed by a scan header and no
// data.
func jpegClaiming(w, h uint16) []byte {
	b := []byte{0xff, 0xd8} // SOI
	b = append(b, 0xff, 0xc0, 0, 17, 8)
	b = binary.BigEndian.AppendUint16(b, h)
	b = binary.BigEndian.AppendUint16(b, w)
	b = append(b, 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0)
	b = append(b, 0xff, 0xda, 0, 12, 3, 1, 0, 2, 0, 3, 0, 0, 63, 0) // SOS
	return append(b, 0, 0, 0, 0, 0xff, 0xd9)
}

// encoded returns img as a PNG, or a JPEG of the given quality, progressive
// being unavailable in Go's encoder.
func encoded(t testing.TB, img image.Image, format string) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	if format == "png" {
		err = png.Encode(&b, img)
	} else {
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 90})
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestLoadImageRefusesHugeHeaders: files whose header claims more pixels
// than the limit are refused from the header, with an error naming the
// file, the format, the claimed size and the limit, allocating almost
// nothing. Decoding them took 8.6 GB (a 1 MB PNG of 32768x32768) or died
// out of memory (200000x200000).
func TestLoadImageRefusesHugeHeaders(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name   string
		data   []byte
		limit  int
		claims string
	}{
		{"tiny.png", pngClaiming(t, 200000, 200000, 16), 0, "PNG header claims 200000x200000 = 40000000000 pixels"},
		{"1mb.png", pngClaiming(t, 32768, 32768, 1<<20), 0, "PNG header claims 32768x32768 = 1073741824 pixels"},
		{"wide.png", pngClaiming(t, 1<<31-1, 1, 16), 0, "PNG header claims 2147483647x1 = 2147483647 pixels"},
		{"big.jpg", jpegClaiming(65535, 65535), 0, "JPEG header claims 65535x65535 = 4294836225 pixels"},
		{"raised.png", pngClaiming(t, 10000, 10000, 16), 99_999_999, "PNG header claims 10000x10000 = 100000000 pixels"},
	} {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		var err error
		n := allocated(func() { _, err = LoadImage(path, c.limit) })
		limit := c.limit
		if limit == 0 {
			limit = DefaultMaxPixels
		}
		want := fmt.Sprintf("predict: %s: the %s, more than the limit of %d", path, c.claims, limit)
		if err == nil || err.Error() != want {
			t.Errorf("%s (%d bytes): %v\nwant %s", c.name, len(c.data), err, want)
		}
		if n > 256<<10 {
			t.Errorf("%s: refusing it allocated %d bytes", c.name, n)
		}
	}
}

// TestMaxPixels: the limit is the caller's to raise, in LoadImage and in
// Top5's Config, and an image at the limit loads.
func TestMaxPixels(t *testing.T) {
	path := writeImage(t, t.TempDir(), "a.png", pattern(100, 50))
	if _, err := LoadImage(path, 4999); err == nil || !strings.Contains(err.Error(), "100x50 = 5000 pixels, more than the limit of 4999") {
		t.Errorf("a 100x50 image with a limit of 4999 pixels: %v", err)
	}
	if img, err := LoadImage(path, 5000); err != nil || img.Bounds().Dx() != 100 {
		t.Errorf("a 100x50 image with a limit of 5000 pixels: %v", err)
	}
	cfg := Config{MaxPixels: 4999, Std: [3]float64{1, 1, 1}}
	if _, err := Preprocess(pattern(100, 50), cfg); err == nil || !strings.Contains(err.Error(), "limit of 4999") {
		t.Errorf("Preprocess, 100x50 with a limit of 4999 pixels: %v", err)
	}
	cfg.MaxPixels = 5000
	if _, err := Preprocess(pattern(100, 50), cfg); err != nil {
		t.Errorf("Preprocess, 100x50 with a limit of 5000 pixels: %v", err)
	}
}

// TestPreprocessRefusesHugeResize: an image within the limit whose resized
// form is not (a 2x3000 strip becomes 256x384000 for ImageNet) is refused
// before anything is resized; it used to allocate 300 MB.
func TestPreprocessRefusesHugeResize(t *testing.T) {
	strip := image.NewGray(image.Rect(0, 0, 2, 3000))
	var err error
	n := allocated(func() { _, err = Preprocess(strip, ImageNetConfig()) })
	want := "image of 2x3000 pixels resized to a shorter side of 256: 256x384000 = 98304000 pixels, more than the limit of 40000000"
	if err == nil || err.Error() != want {
		t.Errorf("%v\nwant %s", err, want)
	}
	if n > 64<<10 {
		t.Errorf("refusing it allocated %d bytes", n)
	}
}

// TestLoadImageFileSizeCap: a file longer than an image within the limit
// can take is refused unread; the cap grows with the limit.
func TestLoadImageFileSizeCap(t *testing.T) {
	path := writeImage(t, t.TempDir(), "padded.png", pattern(10, 10))
	// A valid PNG followed by zeros (a sparse file) up to one byte past the
	// cap of a 100-pixel limit.
	if err := os.Truncate(path, maxFileBytes(100)+1); err != nil {
		t.Fatal(err)
	}
	var err error
	n := allocated(func() { _, err = LoadImage(path, 100) })
	want := fmt.Sprintf("predict: %s: %d bytes, more than the %d an image of up to 100 pixels may take", path, maxFileBytes(100)+1, maxFileBytes(100))
	if err == nil || err.Error() != want {
		t.Errorf("%v\nwant %s", err, want)
	}
	if n > 64<<10 {
		t.Errorf("refusing it allocated %d bytes", n)
	}
	if img, err := LoadImage(path, 0); err != nil || img.Bounds().Dx() != 10 {
		t.Errorf("the same file under the default limit: %v", err)
	}
	// A stream that is not a regular file is read up to the cap: a PNG
	// header, then an endless ancillary chunk from a named pipe.
	fifo := filepath.Join(t.TempDir(), "endless.png")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no named pipes:", err)
	}
	head := encoded(t, pattern(10, 10), "png")[:33] // signature and IHDR
	head = binary.BigEndian.AppendUint32(head, 1<<31-1)
	head = append(head, "tEXt"...)
	written := make(chan int64)
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			written <- 0
			return
		}
		defer w.Close()
		n, _ := w.Write(head)
		zeros := make([]byte, 1<<16)
		for err == nil {
			var m int
			m, err = w.Write(zeros)
			n += m
		}
		written <- int64(n)
	}()
	_, err = LoadImage(fifo, 100)
	if err == nil || !strings.Contains(err.Error(), "endless.png: not a readable PNG or JPEG image: unexpected EOF") {
		t.Errorf("an endless stream: %v", err)
	}
	if n := <-written; n > maxFileBytes(100)+1<<20 {
		t.Errorf("LoadImage read %d bytes of an endless stream, the cap is %d", n, maxFileBytes(100))
	}
}

// TestLoadImageOtherFormats: what the header says is not PNG or JPEG is
// refused even when a decoder for it is registered.
func TestLoadImageOtherFormats(t *testing.T) {
	image.RegisterFormat("fake", "FAKE", func(io.Reader) (image.Image, error) { return image.NewGray(image.Rect(0, 0, 1, 1)), nil },
		func(io.Reader) (image.Config, error) { return image.Config{Width: 1, Height: 1}, nil })
	if _, err := decode(strings.NewReader("FAKE image"), "x.fake", DefaultMaxPixels); err == nil || err.Error() != "predict: x.fake: a fake image, want PNG or JPEG" {
		t.Errorf("%v", err)
	}
}

// TestLoadImageHeaderLimit: a header that goes on past maxHeaderBytes (a
// JPEG of comment segments before its frame header) is refused there.
func TestLoadImageHeaderLimit(t *testing.T) {
	data := []byte{0xff, 0xd8}
	comment := append([]byte{0xff, 0xfe, 0xff, 0xff}, make([]byte, 0xffff-2)...)
	for len(data) <= maxHeaderBytes {
		data = append(data, comment...)
	}
	data = append(data, jpegClaiming(8, 8)[2:]...)
	path := filepath.Join(t.TempDir(), "comments.jpg")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadImage(path, 0)
	want := fmt.Sprintf("predict: %s: not a readable PNG or JPEG image: no image size in the first %d bytes", path, maxHeaderBytes)
	if err == nil || err.Error() != want {
		t.Errorf("%v\nwant %s", err, want)
	}
}
