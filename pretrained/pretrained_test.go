package pretrained_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gorgonia-zoo/resnet/models"
	"github.com/gorgonia-zoo/resnet/pretrained"
	"github.com/gorgonia-zoo/resnet/safetensors"
	"github.com/gorgonia-zoo/resnet/weights"
	"github.com/pkg/errors"
)

// TestNotShipped: every zoo model without shipped weights, and names that
// are no model or no file, give an error wrapping ErrNotShipped that names
// the model and the way around it; so does opening their entry.
func TestNotShipped(t *testing.T) {
	names := []string{"resnet21", "", "README", "README.md", "../files/README", "files/resnet20"}
	for _, n := range models.Names() {
		if !slices.Contains(pretrained.Models(), n) {
			names = append(names, n)
		}
	}
	for _, n := range names {
		_, err := pretrained.Lookup(n)
		if !errors.Is(err, pretrained.ErrNotShipped) || !strings.Contains(err.Error(), "no shipped weights for "+n+";") || !strings.Contains(err.Error(), "weights.LoadModel") {
			t.Errorf("Lookup(%q): %v", n, err)
		}
		if _, err := (pretrained.Entry{Model: n}).Open(); !errors.Is(err, pretrained.ErrNotShipped) {
			t.Errorf("Open of %q: %v", n, err)
		}
	}
}

// TestShipped checks every shipped file: its entry names it, its checksum
// and size are the file's, it loads strictly into its model (no optimizer
// state, nothing missing) with every tensor as stored, its normalization
// and provenance are complete, and its source run is in the repository.
func TestShipped(t *testing.T) {
	shipped := pretrained.Models()
	if len(shipped) == 0 {
		t.Skip("no weights shipped yet (pretrained/files/MODEL.safetensors, written by train export)")
	}
	for _, name := range shipped {
		e, err := pretrained.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if e.Model != name || e.Path != "pretrained/files/"+name+".safetensors" {
			t.Errorf("%s: entry of %s at %s", name, e.Model, e.Path)
		}
		f, err := e.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if e.SHA256 != hex.EncodeToString(sum[:]) || e.Size != len(b) {
			t.Errorf("%s: entry says %d bytes, sha256 %s; the file has %d, %x", name, e.Size, e.SHA256, len(b), sum)
		}
		if disk, err := os.ReadFile(filepath.Join("files", name+".safetensors")); err != nil || !bytes.Equal(disk, b) {
			t.Errorf("%s: the embedded file is not the one in files/ (%v)", name, err)
		}
		m, err := e.Load()
		if err != nil {
			t.Fatal(err)
		}
		stored, err := safetensors.Read(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		loaded, err := weights.Encode(m.State(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if m.Name() != name || len(loaded.Tensors) != len(stored.Tensors) {
			t.Errorf("%s: loaded %s with %d tensors, the file has %d", name, m.Name(), len(loaded.Tensors), len(stored.Tensors))
		}
		for _, lt := range loaded.Tensors {
			if st, ok := stored.Get(lt.Name); !ok || st.DType != lt.DType || !bytes.Equal(st.Data, lt.Data) {
				t.Errorf("%s: %s loaded is not %s stored", name, lt.Name, lt.Name)
			}
		}
		if err := e.Normalization.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if p := e.Provenance; p.TestImages <= 0 || p.Iterations <= 0 || p.Data == "" {
			t.Errorf("%s: provenance %+v", name, p)
		}
		if st, err := os.Stat(filepath.Join("..", filepath.FromSlash(e.Source))); err != nil || !st.IsDir() || filepath.IsAbs(e.Source) {
			t.Errorf("%s: source %q is no run directory of the repository (%v)", name, e.Source, err)
		}
	}
}

// TestProvenance: Metadata and ParseProvenance round-trip, the optional
// keys may be absent, and a missing or bad value is an error naming its
// key.
func TestProvenance(t *testing.T) {
	p := pretrained.Provenance{Source: "results/x/run", Commit: "3a0226c", Iterations: 64000, Seed: 1, Data: "cifar-10-binary.tar.gz",
		DataSHA256: "97e4", TestImages: 10000, TestError: 0.0875, TestLoss: 0.31415926535}
	got, err := pretrained.ParseProvenance(p.Metadata())
	if err != nil || got != p {
		t.Errorf("round trip: %+v, %v", got, err)
	}
	p.Commit, p.DataSHA256 = "", ""
	md := p.Metadata()
	if _, ok := md[pretrained.KeyCommit]; ok {
		t.Errorf("empty commit recorded: %v", md)
	}
	if got, err := pretrained.ParseProvenance(md); err != nil || got != p {
		t.Errorf("without the optional keys: %+v, %v", got, err)
	}
	for _, c := range []struct{ key, value, want string }{
		{pretrained.KeyTestError, "", `no "test_error" metadata`},
		{pretrained.KeySource, "", `no "source" metadata`},
		{pretrained.KeyIterations, "many", `metadata iterations "many": not a number`},
		{pretrained.KeyTestLoss, "0.3x", `metadata test_loss "0.3x": not a number`},
		{pretrained.KeyTestError, "1.5", "test_error 1.5"},
		{pretrained.KeyTestImages, "0", "test_images 0"},
	} {
		md := p.Metadata()
		if c.value == "" {
			delete(md, c.key)
		} else {
			md[c.key] = c.value
		}
		if _, err := pretrained.ParseProvenance(md); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q: %v, want %q", c.key, c.value, err, c.want)
		}
	}
}
