package main

import (
	"reflect"
	"testing"
)

func TestFilterArgs(t *testing.T) {
	tests := []struct {
		in, want []string
	}{
		{[]string{"zurl"}, []string{"zurl"}},
		{[]string{"zurl", "--config=/x", "--verbose", "--logfile=/l"}, []string{"zurl", "--config=/x", "--verbose", "--logfile=/l"}},
		{[]string{"zurl", "--unknown=1", "--loglevel=2", "--help", "positional"}, []string{"zurl", "--loglevel=2"}},
		{[]string{"zurl", "--version", "--", "--config=/ignored"}, []string{"zurl", "--version"}},
		{[]string{"zurl", "-v", "--configx=1"}, []string{"zurl"}},
	}
	for _, tt := range tests {
		if got := filterArgs(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("filterArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
