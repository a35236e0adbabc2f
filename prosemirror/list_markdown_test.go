package prosemirror

import (
	"strings"
	"testing"
)

// A list item whose body starts with a blank line (here a paragraph whose
// text is a line break, as collaborative edits can make) is written without
// panicking: rendering runs on a background goroutine, and this panic
// killed servers in e2e/instances-faults.test.mjs.
func TestListItemStartingWithBlankLine(t *testing.T) {
	t.Parallel()
	for _, list := range []string{TypeBulletList, TypeOrderedList, TypeTaskList} {
		item := TypeListItem
		if list == TypeTaskList {
			item = TypeTaskItem
		}
		doc := &Node{Type: TypeDoc, Content: []*Node{{Type: list, Content: []*Node{
			{Type: item, Content: []*Node{{Type: TypeParagraph, Content: []*Node{{Type: TypeText, Text: "\n"}}}}},
			{Type: item, Content: []*Node{{Type: TypeParagraph, Content: []*Node{{Type: TypeText, Text: "\nafter"}}}}},
		}}}}
		md := doc.Markdown()
		if !strings.Contains(md, "after") {
			t.Fatalf("%s: markdown %q lost the item's text", list, md)
		}
	}
}
