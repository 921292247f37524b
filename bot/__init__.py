"""The answering side: retrieve -> answer -> Telegram."""
