"""What a run shows, drawn: every Altair chart (`charts`, for the pages and the report alike), the
run's evidence document and its files (`writer`), and the HTML a reviewer reads top-down, summary
first (`html`)."""
