"""The Streamlit dashboard's pages and components: UI only, every number comes from the library."""
