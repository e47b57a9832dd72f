"""The Streamlit app: ``streamlit run dashboard/app.py``.

Pages import their helpers as ``from dashboard import state, figures, controls``.
"""
