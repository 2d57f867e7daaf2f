package cifar10

import (
	"bytes"
	"strings"
	"testing"
)

// The seed corpus of these targets runs with every go test; explore further with
//
//	go test -run '^$' -fuzz FuzzParseRecords -fuzztime 10s ./datasets/cifar10
//	go test -run '^$' -fuzz FuzzReadArchive -fuzztime 10s ./datasets/cifar10

func FuzzParseRecords(f *testing.F) {
	good := records(0, 2)
	badLabel := bytes.Clone(good)
	badLabel[RecordLen] = 200
	for _, seed := range [][]byte{nil, {0}, good[:RecordLen], good, good[:RecordLen+1], badLabel} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Set
		err := readRecords(bytes.NewReader(data), int64(len(data)), "fuzz.bin", &s)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.bin") {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		if len(data)%RecordLen != 0 || s.Len() != len(data)/RecordLen || len(s.Pixels) != s.Len()*ImageLen {
			t.Fatalf("%d bytes parsed into %d records and %d pixel bytes", len(data), s.Len(), len(s.Pixels))
		}
		for i := range s.Len() {
			rec := data[i*RecordLen : (i+1)*RecordLen]
			if s.Labels[i] != rec[0] || s.Labels[i] >= NumClasses || !bytes.Equal(s.Image(i), rec[1:]) {
				t.Fatalf("record %d parsed wrongly", i)
			}
		}
		// The same records behind a header that promises more must fail cleanly.
		if err := readRecords(bytes.NewReader(data), int64(len(data)+RecordLen), "fuzz.bin", &Set{}); err == nil {
			t.Error("a stream shorter than its size parsed without error")
		}
	})
}

func FuzzReadArchive(f *testing.F) {
	good := newLayout(1, 1).archive(f)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(good[:20])
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := readArchive(bytes.NewReader(data), "fuzz.tar.gz")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.tar.gz") {
				t.Errorf("error %q does not name the archive", err)
			}
			return
		}
		if d.Train.Len() == 0 || d.Test.Len() == 0 {
			t.Errorf("an archive without images loaded: %d training, %d test", d.Train.Len(), d.Test.Len())
		}
	})
}
