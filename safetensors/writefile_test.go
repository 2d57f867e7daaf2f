package safetensors

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var (
	oldFile = &File{Tensors: []Tensor{FromFloat32("w", []int{2}, []float32{1, 2})}}
	newFile = &File{
		Tensors:  []Tensor{FromFloat64("w", []int{3}, []float64{3, 4, 5}), FromInt64("n", nil, []int64{9})},
		Metadata: map[string]string{"format": "pt"},
	}
)

// writeOld writes oldFile at dir/model.safetensors and returns the path and
// the bytes written.
func writeOld(t *testing.T, dir string) (string, []byte) {
	t.Helper()
	path := filepath.Join(dir, "model.safetensors")
	if err := WriteFile(path, oldFile); err != nil {
		t.Fatal(err)
	}
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, content
}

// assertOnly checks that dir holds exactly the named entries: no temporary
// file was left behind.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !reflect.DeepEqual(got, names) {
		t.Errorf("directory holds %q, want %q", got, names)
	}
}

func assertContent(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s changed", path)
	}
}

func TestWriteFileCreatesAndReplaces(t *testing.T) {
	dir := t.TempDir()
	path, old := writeOld(t, dir)
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("new file mode %v, %v; want 0644", info.Mode(), err)
	}
	if !bytes.Equal(old, mustWrite(t, oldFile)) {
		t.Errorf("WriteFile and Write disagree")
	}

	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, newFile); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustWrite(t, got), mustWrite(t, newFile)) {
		t.Errorf("replaced file does not hold the new tensors")
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("replaced file mode %v, %v; want the old 0600", info.Mode(), err)
	}
	assertOnly(t, dir, "model.safetensors")
}

func TestWriteFileInvalidInputLeavesOldFile(t *testing.T) {
	dir := t.TempDir()
	path, old := writeOld(t, dir)
	bad := &File{Tensors: []Tensor{FromFloat32("x", []int{4}, []float32{1})}}
	err := WriteFile(path, bad)
	if err == nil || !strings.Contains(err.Error(), "safetensors: write "+path+`: tensor "x"`) {
		t.Fatalf("error %v", err)
	}
	assertContent(t, path, old)
	assertOnly(t, dir, "model.safetensors")
}

func TestWriteFileMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "model.safetensors")
	err := WriteFile(path, newFile)
	if err == nil || !strings.Contains(err.Error(), "safetensors: write "+path+": creating a temporary file") {
		t.Fatalf("error %v", err)
	}
}
