package prosemirror

import (
	"errors"
	"fmt"
	"strings"
)

// MaxTableCells bounds the cells the tables of one document span, as
// FromMarkdown builds them and as the API accepts them: a cell is at least
// three nodes (cell, paragraph, text) in the shared document, and the
// stock editor lays every table out as a full grid of its rows times its
// widest row, adding cells where rows are short. Seeding a document of
// 50,000 cells took 0.4–0.8 s here, so 20,000 stay near the 0.25 s the API
// allows formatting (maxInlineCost).
const MaxTableCells = 20_000

// ErrTableTooLarge: see ParseMarkdown.
var ErrTableTooLarge = fmt.Errorf("prosemirror: tables spanning more than %d cells", MaxTableCells)

// TableCells is how many cells the tables in n span, nested ones
// included: each table's rows times its widest row, counting a cell's
// colspan and, for the width, every cell reaching down from a row above
// (an upper bound of the grid prosemirror-tables makes of it). Past
// MaxTableCells it stops counting and returns more than that.
func TableCells(n *Node) int64 {
	var sum int64
	var walk func(n *Node, d int)
	walk = func(n *Node, d int) {
		if sum > MaxTableCells || d > MaxDepth {
			return
		}
		if n.Type == TypeTable {
			sum += tableArea(n)
		}
		for _, c := range n.Content {
			walk(c, d+1)
		}
	}
	walk(n, 0)
	return sum
}

// tableArea is t's rows times the width of its widest row plus the
// columns of every cell spanning rows. Spans are capped at MaxTableCells,
// so the product cannot overflow for any tree Parse accepts.
func tableArea(t *Node) int64 {
	var widest, reaching int64
	for _, r := range t.Content {
		var w int64
		for _, c := range r.Content {
			cols := span(c, "colspan")
			w += cols
			if span(c, "rowspan") > 1 {
				reaching += cols
			}
		}
		widest = max(widest, w)
	}
	return int64(len(t.Content)) * min(widest+reaching, MaxTableCells+1)
}

// span is a cell's colspan or rowspan, 1 when unset or out of range.
func span(c *Node, key string) int64 {
	v := int64(intAttr(c.Attrs, key, 1))
	if v < 1 {
		return 1
	}
	return min(v, MaxTableCells)
}

func isCell(n *Node) bool { return n.Type == TypeTableHeader || n.Type == TypeTableCell }

// notBlockHolders are the node types this package knows whose content is
// not blocks: a table may not sit in them.
var notBlockHolders = map[string]bool{
	TypeParagraph: true, TypeHeading: true, TypeCodeBlock: true, TypeText: true,
	TypeBulletList: true, TypeOrderedList: true, TypeTaskList: true,
	TypeTable: true, TypeTableRow: true,
	TypeImage: true, TypeMention: true, TypeHardBreak: true, TypeHorizontalRule: true,
}

// tablePlacement checks that a table node n sits where Tiptap's schema
// has it, in parent: a row in a table, a cell in a row, a table where
// blocks go (or in a node of a type this package does not know). The
// stock editor and y-prosemirror drop or rewrite one anywhere else.
func tablePlacement(parent, n *Node) error {
	switch {
	case n.Type == TypeTableRow && parent.Type != TypeTable,
		isCell(n) && parent.Type != TypeTableRow,
		n.Type == TypeTable && notBlockHolders[parent.Type]:
		return fmt.Errorf("%s inside %s", n.Type, parent.Type)
	}
	return nil
}

// validateTable checks the content expressions of Tiptap's table nodes
// (y-prosemirror drops from every browser a node its schema refuses) and
// the cells' attrs.
func validateTable(n *Node) error {
	switch n.Type {
	case TypeTable:
		if len(n.Content) == 0 {
			return errors.New("table without rows")
		}
		for _, c := range n.Content {
			if c != nil && c.Type != TypeTableRow {
				return fmt.Errorf("table holds %s", c.Type)
			}
		}
	case TypeTableRow:
		for _, c := range n.Content {
			if c != nil && !isCell(c) {
				return fmt.Errorf("tableRow holds %s", c.Type)
			}
		}
	case TypeTableHeader, TypeTableCell:
		for _, k := range []string{"colspan", "rowspan"} {
			if v, ok := n.Attrs[k]; ok && v != nil {
				if f, ok := v.(float64); !ok || f != float64(int64(f)) || f < 1 || f > MaxTableCells {
					return fmt.Errorf("%s %s %s", n.Type, k, shortValue(v))
				}
			}
		}
		if v, ok := n.Attrs["colwidth"]; ok && v != nil {
			// Pixels per spanned column. prosemirror-tables itself writes
			// 0 for a column not resized yet in a cell spanning several,
			// and fractions when one of those is dragged (its width is the
			// cell's divided by its colspan).
			widths, ok := v.([]any)
			if !ok {
				return fmt.Errorf("%s colwidth is no array", n.Type)
			}
			for _, w := range widths {
				if f, ok := w.(float64); !ok || f < 0 {
					return fmt.Errorf("%s colwidth holds %s", n.Type, shortValue(w))
				}
			}
		}
		if len(n.Content) == 0 {
			return fmt.Errorf("%s without content", n.Type)
		}
		for _, c := range n.Content {
			if c != nil && isInline(c) {
				return fmt.Errorf("%s holds %s", n.Type, c.Type)
			}
		}
	}
	return nil
}

// tableMarkdown writes t as a GFM table the way the stock editor's
// Markdown (turndown) does, "| a | b |" with "| --- | --- |" after the
// first row, which is the header whatever its cells are; but so that
// parsing it back keeps every cell's text: "|" escaped, a cell's lines
// joined with "<br>", every row as wide as the widest (a colspan followed
// by empty cells for the columns it covers, and an empty cell where a
// rowspan from above covers a column, which ProseMirror leaves out of the
// row: without it the row's later cells moved one column left). A table
// too large to pad (TableCells) is written ragged. A table without cells
// leaves no trace.
func tableMarkdown(t *Node) string {
	pad := tableArea(t) <= MaxTableCells
	rows := make([][]string, 0, len(t.Content))
	width := 0
	var below []int64 // per column: rows still covered by a rowspan from above
	for _, r := range t.Content {
		var cells []string
		col := 0
		for _, c := range r.Content {
			for pad && col < len(below) && below[col] > 0 { // covered from above
				below[col]--
				cells = append(cells, "")
				col++
			}
			cells = append(cells, cellMarkdown(c))
			if !pad {
				continue
			}
			cols, down := int(span(c, "colspan")), span(c, "rowspan")
			for range cols - 1 {
				cells = append(cells, "")
			}
			for len(below) < col+cols {
				below = append(below, 0)
			}
			for k := range cols {
				below[col+k] = down - 1
			}
			col += cols
		}
		if pad { // columns covered after the row's last cell
			last := -1
			for k := col; k < len(below); k++ {
				if below[k] > 0 {
					below[k]--
					last = k
				}
			}
			for ; col <= last; col++ {
				cells = append(cells, "")
			}
		}
		rows = append(rows, cells)
		width = max(width, len(cells))
	}
	if width == 0 {
		return ""
	}
	var sb strings.Builder
	writeRow := func(cells []string, n int) {
		sb.WriteString("|")
		for i := range n {
			sb.WriteString(" ")
			if i < len(cells) {
				sb.WriteString(cells[i])
			}
			sb.WriteString(" |")
		}
		sb.WriteString("\n")
	}
	writeRow(rows[0], width)
	sb.WriteString(strings.Repeat("| --- ", width) + "|\n")
	for _, cells := range rows[1:] {
		n := len(cells)
		if pad {
			n = width
		}
		writeRow(cells, n)
	}
	return strings.TrimSuffix(sb.String(), "\n")
}

// cellMarkdown is a cell's content on one line: each textblock's inline
// Markdown, hard breaks and the joins between textblocks as "<br>",
// newlines inside text as spaces, every "|" escaped.
func cellMarkdown(c *Node) string {
	return strings.Join(cellLines(c, nil), "<br>")
}

// cellLines appends the non-empty lines of n's textblocks to out.
func cellLines(n *Node, out []string) []string {
	add := func(s string) {
		if s = strings.ReplaceAll(s, "\n", " "); strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	switch {
	case n.Type == TypeCodeBlock:
		for _, l := range strings.Split(plainInline(n.Content), "\n") {
			if l != "" {
				add(cellPipes(codeSpan(l)))
			}
		}
	case n.Type == TypeImage:
		add(imageMarkdownIn(n, true))
	case n.IsText() || isInline(n):
		add(inlineMarkdownIn([]*Node{n}, true))
	case len(n.Content) > 0 && isInline(n.Content[0]):
		// Split at hard breaks: each piece is rendered on its own, marks
		// closed at the break as inlineMarkdown does there anyway.
		var pieces []string
		start := 0
		for i, c := range n.Content {
			if c.Type == TypeHardBreak {
				pieces = append(pieces, inlineMarkdownIn(n.Content[start:i], true))
				start = i + 1
			}
		}
		pieces = append(pieces, inlineMarkdownIn(n.Content[start:], true))
		add(strings.Join(pieces, "<br>"))
	default:
		for _, c := range n.Content {
			out = cellLines(c, out)
		}
	}
	return out
}

// cellPipes escapes every "|" of Markdown written raw (code spans, link
// destinations, titles) for a table cell; GFM removes the backslashes
// before reading the cell's inline content. Text escapes its own.
func cellPipes(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// tableHTML writes a table's element, a row's, or a cell's with its
// colspan and rowspan when they are not 1.
func tableHTML(n *Node) (open, close string) {
	switch n.Type {
	case TypeTable:
		return "<table><tbody>", "</tbody></table>"
	case TypeTableRow:
		return "<tr>", "</tr>"
	}
	tag := "td"
	if n.Type == TypeTableHeader {
		tag = "th"
	}
	open = "<" + tag
	for _, k := range []string{"colspan", "rowspan"} {
		if v := span(n, k); v > 1 {
			open += fmt.Sprintf(` %s="%d"`, k, v)
		}
	}
	return open + ">", "</" + tag + ">"
}

// tableText is one line per row, its cells' text separated by tabs (a
// cell's own lines joined by spaces).
func tableText(t *Node) []string {
	lines := make([]string, 0, len(t.Content))
	for _, r := range t.Content {
		cells := make([]string, 0, len(r.Content))
		for _, c := range r.Content {
			cells = append(cells, strings.ReplaceAll(c.PlainText(), "\n", " "))
		}
		lines = append(lines, strings.Join(cells, "\t"))
	}
	return lines
}
