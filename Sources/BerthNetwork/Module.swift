// BerthNetwork: populated by the networking work (issue #3).
