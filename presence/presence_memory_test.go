package presence_test

import (
	"testing"

	"github.com/quire/quire/presence"
	"github.com/quire/quire/presence/presencetest"
)

func TestMemory(t *testing.T) {
	t.Parallel()
	presencetest.Run(t, func(*testing.T) presence.Manager { return presence.NewMemory() })
}
