"""Lessons page: ready lesson links from the tutorials, and a lesson made of this setup."""
import streamlit as st

from dashboard import address, controls, links
from dashboard.lessons import LESSONS

st.header("Lessons")
st.caption("Each lesson is a link: it opens a setup, can hide controls (hide=lr,optimizer, or "
           "hide=sidebar for none at all), open on a page (page=weights) and carry a title and "
           "a note, shown as plain text. Copy a link, change any part of it, and send it to a "
           "class: whoever opens it gets the same data, the same starting weights and the same "
           "training.")
controls.notice()
for lesson in LESSONS:
    url = links.share_url(lesson["params"])
    with st.container(border=True, key=f"lesson_{lesson['key']}"):
        st.subheader(lesson["title"])
        st.write(lesson["params"]["note"])
        st.code(url, language=None, wrap_lines=True)
        st.link_button("Open this lesson", url, icon=":material/open_in_new:")

st.subheader("This setup as a lesson")
st.caption("The sidebar's setup now, with a title, a note and the controls to hide.")
title = st.text_input("Title", max_chars=address.MAX_TITLE, key="lesson_new_title")
note = st.text_area("Note", max_chars=address.MAX_NOTE, key="lesson_new_note")
c = st.columns(2)
hide = c[0].multiselect("Hide", [address.SIDEBAR, *address.SETTINGS, *address.OPTION_KEYS],
                        key="lesson_new_hide", help="sidebar hides all of it")
page = c[1].selectbox("Opens on the page", address.PAGES, key="lesson_new_page")
params = {k: v for k, v in links.current_params().items()
          if k not in (address.RUN_KEY, *address.LESSON_KEYS)}
params.update({k: v for k, v in (("hide", ",".join(hide)), ("page", page if page != "train" else ""),
                                 ("title", title.strip()), ("note", note.strip())) if v})
st.code(links.share_url(params), language=None, wrap_lines=True)
