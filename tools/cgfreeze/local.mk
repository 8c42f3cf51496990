# cgfreeze build fragment (filled by the cgfreeze implementation)
