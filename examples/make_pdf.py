"""Writes harbor-railway.pdf, the sample PDF (three pages, one chapter each).

    pip install fpdf2 && python examples/make_pdf.py
"""

from pathlib import Path

from fpdf import FPDF

PAGES = [
    (
        "The Northport Harbor Railway: its beginnings",
        "The Northport Harbor Railway opened on 14 May 1872, carrying timber and salted fish from "
        "the harbor to the market town of Ellery, eleven miles inland. It was built by the engineer "
        "Margaret Hale, who chose a narrow gauge of three feet to keep the cost of the line low "
        "through the steep Corran valley. The first locomotive, named Kestrel, was delivered by sea "
        "from Glasgow and could pull twelve wagons up the valley at walking pace.",
    ),
    (
        "Growth and the great flood",
        "By 1890 the railway ran six trains a day and had added passenger carriages, and the line was "
        "extended to the slate quarry at Penmore in 1894. In the great flood of October 1903 the "
        "river Corran washed away the wooden viaduct at Ashford, cutting the line for nine months. "
        "The viaduct was rebuilt in stone, with five arches, and it still stands today.",
    ),
    (
        "Closure and preservation",
        "Road haulage took most of the traffic after the Second World War, and the railway closed "
        "on 30 September 1959. A group of volunteers, the Northport Railway Society, bought the "
        "line in 1967 and reopened the first four miles to visitors in 1971. Kestrel was restored "
        "in 1985 and now hauls the society's summer trains between the harbor and Ashford viaduct.",
    ),
]


def main() -> None:
    pdf = FPDF()
    for title, body in PAGES:
        pdf.add_page()
        pdf.set_font("helvetica", "B", 16)
        pdf.multi_cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", size=12)
        pdf.multi_cell(0, 7, body)
    out = Path(__file__).with_name("harbor-railway.pdf")
    out.write_bytes(bytes(pdf.output()))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
