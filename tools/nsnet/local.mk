# nsnet build fragment (filled by the nsnet implementation)
