"""The short help shown next to the search box (the full reference is docs/search.md)."""

HELP_TEXT = """\
Search cases as you type. Words must all match (English stems: printers = printer);
the last word matches as a prefix while you type.
  "exact phrase"          words in this order
  status:open             new, open, pending, on-hold, solved, closed (comma = any)
  priority:high           low, normal, high, urgent
  assignee:me  assignee:none  assignee:sam.rivera@…   is:unassigned   is:open
  tag:vip   requester:ana@acme.com or requester:"Ana Silva"   org:acme   product:dataflow
  created:>2026-01-01   created:<=2026-02-28   updated:<7d (newer than 7 days; d w m y)
  -tag:spam  -word        leave out
  sso OR okta             either (OR in capitals)
Matches are marked «like this». Nothing found? A "did you mean" suggestion is offered."""
