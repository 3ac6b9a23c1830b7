"""Sphinx configuration of the course website; `make site` (scripts/build_site.py) stages the
sources in build/site-src/ and builds with this file."""

project = "Transfer learning and zero-shot learning, hands-on"
author = "the course authors"
copyright = "the course authors, MIT licence"

extensions = [
    "myst_nb",
    "sphinx-mathjax-offline",  # MathJax 3 served from the site's own _static/mathjax
]

# The committed outputs are shown as they are: nothing is executed.
nb_execution_mode = "off"
nb_merge_streams = True
nb_output_stderr = "remove"  # warnings printed while the notebooks ran are not lesson text
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
exclude_patterns = ["downloads/*"]  # the student versions, offered for download only

mathjax_path = "mathjax/tex-chtml.js"

html_theme = "sphinx_book_theme"
html_title = "Transfer learning & zero-shot learning"
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"  # else browsers ask for a missing /favicon.ico
html_css_files = ["course.css"]
html_last_updated_fmt = None
# A page without a stored light/dark choice starts light (an empty mode is a console error).
html_context = {"default_mode": "light"}
html_show_sourcelink = False
html_copy_source = True
html_theme_options = {
    "use_download_button": True,  # the page's source (.ipynb) as shown on the site
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "show_toc_level": 2,
    "home_page_in_toc": True,
    "navigation_with_keys": False,
    "launch_buttons": {},
}
