"""Offers held from the master between their arrival and the scheduling cycle that uses or declines them."""
