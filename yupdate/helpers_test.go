package yupdate

import (
	"errors"
	"reflect"
	"testing"
)

// Small assertion helpers; the module carries no assertion library.

func noErr(tb testing.TB, err error, ctx ...any) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%v: unexpected error %v", ctx, err)
	}
}

func invalid(tb testing.TB, err error, ctx ...any) {
	tb.Helper()
	if !errors.Is(err, ErrInvalid) {
		tb.Fatalf("%v: want ErrInvalid, got %v", ctx, err)
	}
}

func equal(tb testing.TB, want, got any, ctx ...any) {
	tb.Helper()
	if !reflect.DeepEqual(want, got) {
		tb.Fatalf("%v:\nwant %v\n got %v", ctx, want, got)
	}
}

func check(tb testing.TB, ok bool, ctx ...any) {
	tb.Helper()
	if !ok {
		tb.Fatal(ctx...)
	}
}
