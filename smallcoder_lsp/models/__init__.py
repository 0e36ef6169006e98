"""Which model and which runtime: model files, conversion to Hugging Face folders, the hardware profile, the
backend choice and ``doctor``. Everything here runs before (or around) loading; nothing here runs per keystroke.
"""
